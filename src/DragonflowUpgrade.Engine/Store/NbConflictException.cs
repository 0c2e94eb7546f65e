using System;
using System.Collections.Generic;
using System.Linq;
using DragonflowUpgrade.Engine.Errors;

namespace DragonflowUpgrade.Engine.Store
{
    /// <summary>
    /// A conditional write found objects that no longer hold what the run read: someone else
    /// wrote them meanwhile. The batches holding them wrote nothing.
    /// </summary>
    public sealed class NbConflictException : DfException
    {
        public const string Id = "NbCommitConflict";
        const int Named = 5;

        public NbConflictException(string location, IReadOnlyCollection<NbKey> changed, int written, string? what = null, string? action = null, Exception? inner = null)
            : base(Id, DfErrorCategory.WriteError,
                   $"{changed.Count} object(s) of {location} changed since the run read them: {Describe(changed)}. " +
                   "Something else wrote the NB database meanwhile (a service still running, another operator); the batches holding those objects wrote nothing." +
                   (written > 0 ? $" {written} change(s) had been written." : "") + (what == null ? "" : " " + what),
                   location, action ?? "Find out what wrote those objects and stop it, then run again: the run reads the database afresh.", inner)
        {
            Keys = changed;
            Written = written;
        }

        /// <summary>The objects that changed under the run.</summary>
        public IReadOnlyCollection<NbKey> Keys { get; }

        /// <summary>How many changes were written before the conflict was found.</summary>
        public int Written { get; }

        /// <summary>The first few keys, then how many more.</summary>
        public static string Describe(IReadOnlyCollection<NbKey> keys) =>
            string.Join(", ", keys.Take(Named)) + (keys.Count > Named ? $" and {keys.Count - Named} more" : "");
    }
}
