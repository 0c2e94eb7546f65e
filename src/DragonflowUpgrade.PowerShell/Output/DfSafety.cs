using System;
using System.Linq;
using DragonflowUpgrade.Engine.Safety;

namespace DragonflowUpgrade.PowerShell.Output
{
    /// <summary>Who holds a database's upgrade lock (Get-DfNbDatabaseLock, Lock-DfNbDatabase, Unlock-DfNbDatabase -PassThru).</summary>
    public sealed class DfUpgradeLock
    {
        internal DfUpgradeLock(UpgradeLockInfo l, string database)
        {
            Database = database;
            Host = l.Host;
            ProcessId = l.ProcessId;
            User = l.User;
            Purpose = l.Purpose;
            StartedAt = l.StartedAt.UtcDateTime;
            ExpiresAt = l.ExpiresAt.UtcDateTime;
            HeldBySession = UpgradeLock.IsHeldBySession(l);
            OwnerGone = l.OwnerGone;
        }

        public string Database { get; }
        public string Host { get; }
        public int ProcessId { get; }
        public string? User { get; }
        /// <summary>What took it: the cmdlet of a run, or the purpose given to Lock-DfNbDatabase.</summary>
        public string Purpose { get; }
        public DateTime StartedAt { get; }
        public DateTime ExpiresAt { get; }
        /// <summary>Taken by Lock-DfNbDatabase in this PowerShell process: its runs share it.</summary>
        public bool HeldBySession { get; }
        /// <summary>Expired, or its process no longer runs on this host.</summary>
        public bool OwnerGone { get; }
    }

    /// <summary>A backup file of an NB database (Backup-DfNbDatabase).</summary>
    public sealed class DfBackup
    {
        internal DfBackup(BackupInfo b, string database)
        {
            Database = database;
            Path = b.Path;
            Source = b.Source;
            CreatedAt = b.CreatedAt.UtcDateTime;
            SchemaRelease = b.SchemaRelease;
            Objects = b.Objects;
            Checksum = b.Checksum;
            Size = b.Size;
        }

        /// <summary>The database backed up, as given to -Database (without secrets): Restore-DfNbDatabase takes it from the pipeline.</summary>
        public string Database { get; }
        public string Path { get; }
        /// <summary>The database it was taken from, without secrets.</summary>
        public string? Source { get; }
        public DateTime CreatedAt { get; }
        public string? SchemaRelease { get; }
        public int Objects { get; }
        /// <summary>SHA-256 of the object lines.</summary>
        public string? Checksum { get; }
        /// <summary>Bytes on disk.</summary>
        public long Size { get; }
    }

    /// <summary>What a restore changes or changed (Restore-DfNbDatabase, Undo-DfMigration).</summary>
    public sealed class DfRestore
    {
        internal DfRestore(RestorePlan p, bool applied, string? runId = null)
        {
            Database = p.Database;
            Path = p.Backup.Path;
            RunId = runId;
            Objects = p.Backup.Objects;
            Created = p.Created;
            Updated = p.Updated;
            Deleted = p.Deleted;
            Unchanged = p.Unchanged;
            Applied = applied;
        }

        public string Database { get; }
        /// <summary>The backup restored.</summary>
        public string Path { get; }
        /// <summary>The migration run taken back (Undo-DfMigration).</summary>
        public string? RunId { get; }
        /// <summary>Objects in the backup.</summary>
        public int Objects { get; }
        public int Created { get; }
        public int Updated { get; }
        public int Deleted { get; }
        public int Unchanged { get; }
        /// <summary>False under -WhatIf: the counts are what it would do.</summary>
        public bool Applied { get; }
    }

    /// <summary>A migration run's finished commit (Resume-DfMigration).</summary>
    public sealed class DfCommit
    {
        internal DfCommit(CommitReport r)
        {
            Database = r.Database;
            RunId = r.RunId;
            Migrations = r.Migrations.ToArray();
            Puts = r.Puts;
            Deletes = r.Deletes;
            BackupPath = r.BackupPath;
            JournalPath = r.JournalPath;
        }

        public string? Database { get; }
        public string RunId { get; }
        /// <summary>The ids of the migrations the run applied.</summary>
        public string[] Migrations { get; }
        public int Puts { get; }
        public int Deletes { get; }
        /// <summary>The backup taken before the run: Undo-DfMigration restores it.</summary>
        public string BackupPath { get; }
        public string JournalPath { get; }
    }
}
