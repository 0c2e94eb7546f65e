using System;

namespace DragonflowUpgrade.Remote
{
    /// <summary>A malformed inventory: names the file, the line and the field at fault.</summary>
    public sealed class InventoryException : Exception
    {
        public InventoryException(string file, int line, string field, string problem)
            : base(field == null ? $"{file}, line {line}: {problem}" : $"{file}, line {line}, field {field}: {problem}")
        {
            File = file;
            Line = line;
            Field = field;
        }

        public string File { get; }
        public int Line { get; }
        public string Field { get; }
    }
}
