using System;
using System.Collections.Generic;
using System.Linq;
using DragonflowUpgrade.Engine.Migrations;

namespace DragonflowUpgrade.PowerShell.Output
{
    /// <summary>A known migration and whether the database has it (Get-DfMigration).</summary>
    public sealed class DfMigration
    {
        internal DfMigration(MigrationStatus s, string database, string[]? migrationPath)
        {
            Id = s.Migration.Id;
            Release = s.Migration.Release;
            Description = s.Migration.Description;
            ProposedAt = s.Migration.ProposedAt.UtcDateTime;
            AppliedAt = s.Log?.AppliedAt?.UtcDateTime;
            Status = s.IsApplied ? "Applied" : "Pending";
            Baselined = s.Log?.Kind == MigrationLogKind.Baselined;
            ChecksumChanged = s.ChecksumChanged;
            Handles = s.Migration.Handles.Select(h => h.ToString()).ToArray();
            Source = s.Migration.Source;
            Checksum = s.Migration.Checksum;
            Database = database;
            MigrationPath = migrationPath;
        }

        public string Id { get; }
        public string Release { get; }
        public string Description { get; }
        public DateTime ProposedAt { get; }
        public DateTime? AppliedAt { get; }
        /// <summary>Applied or Pending.</summary>
        public string Status { get; }
        /// <summary>Marked applied by Set-DfMigrationBaseline rather than run.</summary>
        public bool Baselined { get; }
        /// <summary>Applied, but its script has changed since.</summary>
        public bool ChecksumChanged { get; }
        public string[] Handles { get; }
        public string Source { get; }
        public string? Checksum { get; }
        /// <summary>The database it was read against, so the object can be piped to Invoke-DfMigration.</summary>
        public string Database { get; }
        public string[]? MigrationPath { get; }
    }

    /// <summary>A row of schema_migration_log (Get-DfMigrationLog, Set-DfMigrationBaseline, Invoke-DfMigration).</summary>
    public sealed class DfMigrationLogEntry
    {
        internal DfMigrationLogEntry(MigrationLogEntry e, string database)
        {
            Id = e.Id;
            Kind = e.Kind.ToString();
            Release = e.Release;
            Description = e.Description;
            ProposedAt = e.ProposedAt?.UtcDateTime;
            AppliedAt = e.AppliedAt?.UtcDateTime;
            Checksum = e.Checksum;
            Database = database;
        }

        public string Id { get; }
        /// <summary>Migration, Baselined, Baseline or Schema.</summary>
        public string Kind { get; }
        public string? Release { get; }
        public string? Description { get; }
        public DateTime? ProposedAt { get; }
        public DateTime? AppliedAt { get; }
        public string? Checksum { get; }
        public string Database { get; }
        /// <summary>The backup Invoke-DfMigration took before it wrote (Undo-DfMigration restores it); null elsewhere.</summary>
        public string? BackupPath { get; internal set; }
    }

    /// <summary>Creates, updates and deletes a run makes in one table.</summary>
    public sealed class DfTableChange
    {
        internal DfTableChange(TableChanges c)
        {
            Table = c.Table;
            Creates = c.Creates;
            Updates = c.Updates;
            Deletes = c.Deletes;
        }

        public string Table { get; }
        public int Creates { get; }
        public int Updates { get; }
        public int Deletes { get; }
    }

    /// <summary>What Invoke-DfMigration -WhatIf would do.</summary>
    public sealed class DfMigrationPlan
    {
        internal DfMigrationPlan(Engine.Run.MigrationRunPlan plan)
        {
            Database = plan.Database;
            Migrations = plan.Migrations.Select(m => m.Id).ToArray();
            Changes = plan.Changes.Select(c => new DfTableChange(c)).ToArray();
            ObjectsRead = plan.Result?.ObjectsRead ?? 0;
            Warnings = plan.Warnings.ToArray();
            FromRelease = plan.Schema.From;
            ToRelease = plan.Schema.To;
        }

        /// <summary>The schema release the database is at, and the one the run brings it to (null when no schema applies).</summary>
        public string? FromRelease { get; }
        public string? ToRelease { get; }

        /// <summary>What the operator must know or do, e.g. after the upgrade.</summary>
        public string[] Warnings { get; }

        public string Database { get; }
        /// <summary>The ids of the migrations that would run, in order.</summary>
        public string[] Migrations { get; }
        public DfTableChange[] Changes { get; }
        public int ObjectsRead { get; }
        public int Creates => Changes.Sum(c => c.Creates);
        public int Updates => Changes.Sum(c => c.Updates);
        public int Deletes => Changes.Sum(c => c.Deletes);
    }

    /// <summary>A table of the NB database and how many objects it holds (Get-DfNbTable).</summary>
    public sealed class DfNbTable
    {
        internal DfNbTable(string table, int count, string database)
        {
            Table = table;
            Count = count;
            Database = database;
        }

        public string Table { get; }
        public int Count { get; }
        public string Database { get; }
    }
}
