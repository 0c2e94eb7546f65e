using System;
using DragonflowUpgrade.Engine.Errors;
using System.Collections.Generic;

namespace DragonflowUpgrade.Engine.Migrations
{
    /// <summary>A known migration and whether the database has it.</summary>
    public sealed class MigrationStatus
    {
        public MigrationStatus(Migration migration, MigrationLogEntry? log)
        {
            Migration = migration;
            Log = log;
        }

        public Migration Migration { get; }

        /// <summary>The log row that marks it applied; null while pending.</summary>
        public MigrationLogEntry? Log { get; }

        public bool IsApplied => Log != null;

        /// <summary>Applied, but the script's text is no longer what ran.</summary>
        public bool ChecksumChanged =>
            Log != null && Log.Checksum != null && Migration.Checksum != null &&
            !string.Equals(Log.Checksum, Migration.Checksum, StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>What the log says against what is known: read from the log alone.</summary>
    public sealed class MigrationPlan
    {
        public MigrationPlan(IReadOnlyList<MigrationStatus> migrations, IReadOnlyList<Migration> pending,
            IReadOnlyList<MigrationLogEntry> log, IReadOnlyList<MigrationLogEntry> unknownApplied)
        {
            Migrations = migrations;
            Pending = pending;
            Log = log;
            UnknownApplied = unknownApplied;
        }

        /// <summary>Every known migration, in run order.</summary>
        public IReadOnlyList<MigrationStatus> Migrations { get; }

        /// <summary>The known migrations the log does not have, in run order.</summary>
        public IReadOnlyList<Migration> Pending { get; }

        public IReadOnlyList<MigrationLogEntry> Log { get; }

        /// <summary>Log rows of migrations that no source knows any more.</summary>
        public IReadOnlyList<MigrationLogEntry> UnknownApplied { get; }
    }

    /// <summary>Counts of what a run changes in one table.</summary>
    public sealed class TableChanges
    {
        public TableChanges(string table) { Table = table; }
        public string Table { get; }
        public int Creates { get; internal set; }
        public int Updates { get; internal set; }
        public int Deletes { get; internal set; }
    }

    /// <summary>A migration threw: which one, on which object. Nothing was written.</summary>
    public sealed class MigrationFailedException : DfException
    {
        public MigrationFailedException(Migration migration, string? lastObject, Exception inner)
            : base("MigrationFailed", DfErrorCategory.InvalidOperation,
                   $"Migration '{migration.Id}' ({migration.Source}) failed{(lastObject == null ? "" : " on " + lastObject)}: {inner.Message} Nothing was written to the database.",
                   migration.Id, "Fix the migration or the object it failed on, then run again.", inner)
        {
            Migration = migration;
            LastObject = lastObject;
        }

        public Migration Migration { get; }

        /// <summary>The object the migration was working on ("table/id"), when known.</summary>
        public string? LastObject { get; }
    }
}
