using System;
using DragonflowUpgrade.Engine.Errors;

namespace DragonflowUpgrade.Engine.Store
{
    /// <summary>The NB database could not be opened, read or written; the message says which and where.</summary>
    public class NbStoreException : DfException
    {
        public NbStoreException(string message, Exception inner = null)
            : base("NbDatabaseUnavailable", DfErrorCategory.ResourceUnavailable, message, null, null, inner) { }

        protected NbStoreException(string errorId, DfErrorCategory category, string message, string target, string recommendedAction, Exception inner = null)
            : base(errorId, category, message, target, recommendedAction, inner) { }
    }

    /// <summary>
    /// An embedded database or backup file is damaged or is not one: the message names the file
    /// (and the line). Nothing was written.
    /// </summary>
    public sealed class NbFileInvalidException : NbStoreException
    {
        public NbFileInvalidException(string path, int line, string problem, string recommendedAction = null, Exception inner = null)
            : base("NbFileInvalid", DfErrorCategory.InvalidData,
                   $"{path}{(line > 0 ? $", line {line}" : "")}: {problem} Nothing was written.",
                   line > 0 ? $"{path}:{line}" : path,
                   recommendedAction ?? "Fix or remove what the message names (or restore the file from a backup), then run again.", inner)
        {
            Path = path;
            Line = line;
        }

        public string Path { get; }
        /// <summary>The line concerned, from 1; 0 for the file as a whole.</summary>
        public int Line { get; }
    }

    /// <summary>A stored value is not one an NB object can have (see <see cref="StoredValue"/>); the message names its key.</summary>
    public sealed class NbValueInvalidException : NbStoreException
    {
        public NbValueInvalidException(string database, NbKey key, string problem)
            : base("NbValueInvalid", DfErrorCategory.InvalidData,
                   $"{database}: the value of {key} {problem} It cannot be backed up and restored as it is, so nothing was written.",
                   $"{database} {key}",
                   $"Fix or delete the key of {key} in the database, then run again.")
        {
            Key = key;
        }

        public NbKey Key { get; }
    }
}
