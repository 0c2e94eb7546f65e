using System.Text;
using DragonflowUpgrade.Engine.Errors;

namespace DragonflowUpgrade.Remote
{
    /// <summary>A malformed inventory: names the file, the line and the field at fault.</summary>
    public sealed class InventoryException : DfException
    {
        public const string InvalidId = "InventoryInvalid";
        /// <summary>A service, node or chassis name that may not reach a command.</summary>
        public const string NameInvalidId = "InventoryNameInvalid";

        public InventoryException(string file, int line, string? field, string problem, string errorId = InvalidId, string? recommendedAction = null)
            : base(errorId, DfErrorCategory.InvalidData,
                   field == null ? $"{file}, line {line}: {problem}" : $"{file}, line {line}, field {Show(field, 200)}: {problem}",
                   file, recommendedAction ?? "Correct the inventory file at that line, then run the command again.")
        {
            File = file;
            Line = line;
            Field = field;
        }

        public string File { get; }
        public int Line { get; }
        public string? Field { get; }

        /// <summary>
        /// A value read from an inventory, fit for a message: control and format characters
        /// (a newline, NUL, a bidirectional override) escaped, and a long one cut short.
        /// </summary>
        public static string Show(string? value, int max = 80)
        {
            if (value == null) return "null";
            var b = new StringBuilder();
            foreach (char c in value.Length > max ? value.Substring(0, max) : value)
            {
                switch (c)
                {
                    case '\n': b.Append("\\n"); break;
                    case '\r': b.Append("\\r"); break;
                    case '\t': b.Append("\\t"); break;
                    case '\0': b.Append("\\0"); break;
                    default:
                        var category = char.GetUnicodeCategory(c);
                        if (category == System.Globalization.UnicodeCategory.Control || category == System.Globalization.UnicodeCategory.Format ||
                            category == System.Globalization.UnicodeCategory.Surrogate || c == '\u2028' || c == '\u2029')
                            b.Append("\\u").Append(((int)c).ToString("X4"));
                        else b.Append(c);
                        break;
                }
            }
            if (value.Length > max) b.Append($"… ({value.Length} characters)");
            return b.ToString();
        }
    }
}
