using System;
using DragonflowUpgrade.Engine.Errors;
using System.Collections.Generic;
using System.Linq;

namespace DragonflowUpgrade.Engine.Schema
{
    /// <summary>
    /// The schema side of a run: the release the database is recorded at, the release it is
    /// going to, the changes between them, and which of those no migration handles.
    /// </summary>
    public sealed class SchemaUpgrade
    {
        public static readonly SchemaUpgrade None = new SchemaUpgrade(null, null, null, Array.Empty<SchemaChange>(), Array.Empty<SchemaChange>());

        public SchemaUpgrade(string? from, string? to, SchemaManifest? target, IReadOnlyList<SchemaChange> changes, IReadOnlyList<SchemaChange> unhandled)
        {
            From = from;
            To = to;
            Target = target;
            Changes = changes;
            Unhandled = unhandled;
        }

        /// <summary>The schema release the database is recorded at; null when unknown.</summary>
        public string? From { get; }

        /// <summary>The release the run brings it to; null when no schema applies.</summary>
        public string? To { get; }

        /// <summary>The target release's schema, which the run's result is validated against.</summary>
        public SchemaManifest? Target { get; }

        public IReadOnlyList<SchemaChange> Changes { get; }
        public IReadOnlyList<SchemaChange> Unhandled { get; }

        /// <summary>The database must change release even if no migration is pending.</summary>
        public bool ChangesRelease => To != null && !string.Equals(From, To, StringComparison.OrdinalIgnoreCase);

        /// <summary>The changes that need a migration and that none of <paramref name="handles"/> (the migrations' Handles) names.</summary>
        public static IReadOnlyList<SchemaChange> FindUnhandled(IEnumerable<SchemaChange> changes, IEnumerable<SchemaChangeKey> handles)
        {
            var handled = new HashSet<SchemaChangeKey>(handles);
            return changes.Where(c => !c.Automatic && !handled.Contains(c.Id)).ToList();
        }
    }

    /// <summary>The run stops before reading anything: a schema change needs a migration that no known migration is.</summary>
    public sealed class SchemaChangeUnhandledException : DfException
    {
        public SchemaChangeUnhandledException(string from, string to, IReadOnlyList<SchemaChange> unhandled)
            : base("SchemaChangeUnhandled", DfErrorCategory.InvalidData, $"Upgrading the schema from {from} to {to} needs a migration for {unhandled.Count} change(s) that no known migration handles: " +
                   string.Join("; ", unhandled.Select(c => c.ToString())) +
                   ". Write a migration that takes care of each and lists it in Handles (e.g. Handles = @('" + unhandled[0].Key + "')). Nothing was written.",
                   null, "Write a migration that takes care of each change and lists it in Handles.")
        {
            Unhandled = unhandled;
        }

        public IReadOnlyList<SchemaChange> Unhandled { get; }
    }

    /// <summary>After the migrations, some objects do not fit the target schema. Nothing was written.</summary>
    public sealed class SchemaValidationException : DfException
    {
        public SchemaValidationException(string release, IReadOnlyList<ValidationError> errors)
            : base("SchemaValidationFailed", DfErrorCategory.InvalidData, $"{errors.Count} object(s) do not fit release {release}'s schema, so nothing was written: " +
                   string.Join("; ", errors.Take(20).Select(e => e.ToString())) + (errors.Count > 20 ? $"; and {errors.Count - 20} more" : "") +
                   ". Fix the data or the migration, then run again.",
                   null, "Fix the data or the migration, then run again.")
        {
            Errors = errors;
        }

        public IReadOnlyList<ValidationError> Errors { get; }
    }
}
