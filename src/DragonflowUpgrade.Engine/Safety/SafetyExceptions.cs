using System;
using System.Collections.Generic;
using System.Linq;
using DragonflowUpgrade.Engine.Errors;
using DragonflowUpgrade.Engine.Store;

namespace DragonflowUpgrade.Engine.Safety
{
    /// <summary>Another run holds the database's upgrade lock; the message names it.</summary>
    public sealed class UpgradeLockedException : DfException
    {
        public const string Id = "DatabaseLocked";

        /// <summary>The error id when the holder is a whole upgrade whose process is gone: it waits for its resume or undo.</summary>
        public const string InterruptedUpgradeId = "DatabaseLockedByUpgrade";

        public UpgradeLockedException(string database, UpgradeLockInfo holder)
            : base(holder.Upgrade != null && holder.OwnerGone ? InterruptedUpgradeId : Id, DfErrorCategory.ResourceBusy,
                   holder.Upgrade != null && holder.OwnerGone
                   ? $"The NB database {database} is locked by upgrade {holder.Upgrade}, {holder}, whose process is gone: that upgrade stopped part-way, and only its resume or undo takes the lock over."
                   : $"The NB database {database} is locked by {holder}. " +
                   (holder.IsLocal
                       ? "Wait for that run to end."
                       : $"Wait for that run to end; if its owner is gone, the lock expires at {UpgradeLockInfo.Format(holder.ExpiresAt)} or Unlock-DfNbDatabase -Force breaks it."),
                   database,
                   holder.Upgrade != null && holder.OwnerGone
                   ? $"Run Invoke-DfUpgrade -Resume to carry upgrade {holder.Upgrade} on, or Undo-DfUpgrade to roll it back, with the -BackupPath of that upgrade (its state file's folder, named above); if you know it is over, Unlock-DfNbDatabase -Force breaks the lock."
                   : holder.IsLocal ? "Wait for that run to end." : "Wait for that run to end; if its owner is gone, break the lock with Unlock-DfNbDatabase -Force.")
        {
            Holder = holder;
        }

        public UpgradeLockInfo Holder { get; }
    }

    /// <summary>Dragonflow services or Neutron servers still report in; migrating now would race them.</summary>
    public sealed class ControlPlaneAliveException : DfException
    {
        /// <param name="database">The NB database, fit to print.</param>
        /// <param name="live">What still reports in.</param>
        /// <param name="command">The command refused, named with the switch that overrides the refusal; null when not a command.</param>
        /// <param name="canIgnore">Whether the caller has that switch; when not (the whole upgrade), the refusal advises stopping the control plane and running again.</param>
        public ControlPlaneAliveException(string database, IReadOnlyList<LiveComponent> live, string? command = null, bool canIgnore = true)
            : base("ControlPlaneAlive", DfErrorCategory.ResourceBusy,
                   $"The control plane of {database} is still running: {string.Join("; ", live.Take(10))}" +
                   (live.Count > 10 ? $"; and {live.Count - 10} more" : "") +
                   (canIgnore ? $". Stop it first (Stop-DfControlPlane), or {Override(command)} to write anyway." : ". Nothing was written."),
                   database, canIgnore ? $"Stop the control plane first (Stop-DfControlPlane), or {Override(command)} to go on anyway."
                       : "Stop the control plane (Stop-DfControlPlane) and keep it stopped, then run again.")
        {
            Live = live;
        }

        public IReadOnlyList<LiveComponent> Live { get; }

        // Every writing cmdlet has the switch (Invoke-DfMigration as an alias of its -Force).
        static string Override(string? command) =>
            string.IsNullOrEmpty(command) ? "pass -IgnoreLiveControlPlane" : $"run {command} with -IgnoreLiveControlPlane";
    }

    /// <summary>The database holds the marker of an interrupted commit (or undo); nothing new may start.</summary>
    public sealed class CommitInProgressException : DfException
    {
        public CommitInProgressException(string database, CommitRecord record)
            : base("CommitInProgress", DfErrorCategory.InvalidOperation, record.State == CommitState.Undoing
                ? $"An undo of migration run {record.RunId} on {database} was interrupted. Run Undo-DfMigration -Database {database} again to finish it."
                : $"The commit of migration run {record.RunId} on {database} (started {UpgradeLockInfo.Format(record.StartedAt)} by process {record.ProcessId} on {record.Host}) did not finish. " +
                  $"Run Resume-DfMigration -Database {database} to finish it, or Undo-DfMigration -Database {database} to restore the backup it made ({record.BackupPath}).",
                   database,
                   record.State == CommitState.Undoing
                       ? $"Run Undo-DfMigration -Database {database} again."
                       : $"Run Resume-DfMigration -Database {database} to finish the commit, or Undo-DfMigration -Database {database} to restore its backup.")
        {
            Record = record;
        }

        public CommitRecord Record { get; }
    }

    /// <summary>A commit stopped part way: the database holds its journal, so it can be resumed or undone.</summary>
    public sealed class CommitInterruptedException : NbStoreException
    {
        public CommitInterruptedException(string database, CommitRecord record, int written, Exception inner, bool journalInDatabase = true)
            : base("CommitInterrupted", DfErrorCategory.ConnectionError,
                   $"The commit of migration run {record.RunId} to {database} was interrupted after {written} of {record.Changes} changes. " +
                   $"Its journal is {(journalInDatabase ? "in the database and " : "")}beside the backup: once the database is reachable, run Resume-DfMigration -Database {database} to finish the commit, " +
                   $"or Undo-DfMigration -Database {database} to restore the backup {record.BackupPath}. The cause: {inner.Message}",
                   database, $"Once the database is reachable, run Resume-DfMigration -Database {database}, or Undo-DfMigration -Database {database}.", inner)
        {
            Record = record;
        }

        public CommitRecord Record { get; }
    }

    /// <summary>A backup or journal file is missing, truncated or was edited; nothing was written.</summary>
    public sealed class BackupInvalidException : DfException
    {
        public BackupInvalidException(string path, string problem, Exception? inner = null, string? recommendedAction = null)
            : base("BackupInvalid", DfErrorCategory.InvalidData, $"{path}: {problem} Nothing was written to the database.", path,
                   recommendedAction ?? "Give a backup this module wrote and that was not changed since.", inner)
        {
            Path = path;
            Problem = problem;
        }

        public string Path { get; }

        // What is wrong, without the path and what follows: for a message that says both already.
        internal string Problem { get; }
    }

    /// <summary>A backup path that cannot hold a backup: the wrong kind of name, or a file the run writes. Nothing was read.</summary>
    public sealed class BackupPathInvalidException : DfException
    {
        public BackupPathInvalidException(string path, string problem)
            : base("BackupPathInvalid", DfErrorCategory.InvalidArgument, $"The backup path '{path}' {problem} Nothing was read or written.", path,
                   "Give -BackupPath (or -Path) a file ending in .jsonl.gz, or a folder, that is not the database or a file beside it that the run writes.")
        {
            Path = path;
        }

        public string Path { get; }
    }

    /// <summary>A backup taken from another database than the one to restore; refused unless forced.</summary>
    public sealed class BackupFromOtherDatabaseException : DfException
    {
        public BackupFromOtherDatabaseException(string backupPath, string? source, string database)
            : base("BackupFromOtherDatabase", DfErrorCategory.InvalidOperation,
                   $"The backup {backupPath} was taken from {source ?? "an unnamed database"}, not from {database}. Nothing was written.", backupPath,
                   "Check that this is the backup you mean; to restore it onto this database anyway, pass -Force.")
        {
        }
    }

    /// <summary>A resume or an undo refused: an object it would write changed since the run, so writing over it would lose that change.</summary>
    public sealed class DatabaseChangedException : DfException
    {
        public const string Id = "DatabaseChangedSinceRun";

        public DatabaseChangedException(string database, string message, string action)
            : base(Id, DfErrorCategory.InvalidOperation, message, database, action) { }
    }

    /// <summary>There is no interrupted commit to resume, or no run to undo.</summary>
    public sealed class NoUpgradeRunException : DfException
    {
        public NoUpgradeRunException(string message, string? database = null)
            : base("NoUpgradeRun", DfErrorCategory.ObjectNotFound, message, database) { }
    }
}
