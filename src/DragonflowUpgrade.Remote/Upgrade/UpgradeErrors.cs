using DragonflowUpgrade.Engine.Errors;

namespace DragonflowUpgrade.Remote.Upgrade
{
    /// <summary>The errors of a whole upgrade, each with a stable id and what to do.</summary>
    public static class UpgradeErrors
    {
        public static DfException StateInvalid(string? path, string why) =>
            new DfException("UpgradeStateInvalid", DfErrorCategory.InvalidData, $"The upgrade state file {path} {why}.", path,
                "Restore the file from the backup folder's copy you trust, or, if no upgrade is under way, move it away; nothing was changed.");

        public static DfException StateOutdated(string path, System.Collections.Generic.IReadOnlyList<string> missing) =>
            new DfException("UpgradeStateInvalid", DfErrorCategory.InvalidData,
                $"The upgrade state file {path} lacks {string.Join(", ", missing)}: an earlier version of this module wrote it, before it recorded them, so this one cannot tell what that upgrade changed.", path,
                "Resume or undo that upgrade with the module version that started it; if no upgrade is under way, move the file away. Nothing was changed.");

        public static DfException StateUnwritable(UpgradeState s, System.Exception e)
        {
            bool begun = s.Steps.Exists(x => x.State != StepState.Pending);
            return new DfException("UpgradeStateUnwritable", DfErrorCategory.WriteError,
                $"Could not record the progress of upgrade {s.Id} in {s.Path}: {e.Message} " +
                (begun ? $"The upgrade stopped at step {s.StepReached}{(s.Failure == null ? "" : " (" + s.Failure + ")")}; nothing was rolled back." : "Nothing was stopped or changed."),
                s.Path, begun
                    ? "Make room in the backup folder (or make it writable again), then run Invoke-DfUpgrade -Resume to carry the upgrade on, or Undo-DfUpgrade to put the cloud back."
                    : "Make room in the backup folder (or make it writable again), then run the upgrade again.");
        }

        public static DfException StateOtherCloud(string? path, string why) =>
            new DfException("UpgradeStateOtherCloud", DfErrorCategory.InvalidArgument, $"The upgrade state file {path} {why}.", path,
                "Give the -BackupPath folder of this cloud's upgrade, or the inventory and database that upgrade was started with; nothing was changed.");

        public static DfException Interrupted(UpgradeState s) =>
            new DfException("UpgradeInterrupted", DfErrorCategory.ResourceBusy,
                $"Upgrade {s.Id} of {s.Database} to {s.TargetRelease} did not finish: it stopped at step {s.StepReached} ({s.Status}, last recorded {s.UpdatedAt:u}){(s.Failure == null ? "" : ": " + s.Failure)}.",
                s.Path, s.RollbackBegun
                    ? "Its rollback had begun, so it is not carried on: run Invoke-DfUpgrade -Resume or Undo-DfUpgrade, either goes on with the rollback from that step."
                    : "Run Invoke-DfUpgrade -Resume to carry it on from that step, or Undo-DfUpgrade to put the cloud back as it was.");

        public static DfException Running(UpgradeState s, Engine.Safety.UpgradeLockInfo holder) =>
            new DfException("UpgradeRunning", DfErrorCategory.ResourceBusy,
                $"Upgrade {s.Id} of {s.Database} to {s.TargetRelease} is under way: {holder} holds the NB database's lock for it (its last recorded step {s.StepReached}, {s.UpdatedAt:u}).",
                s.Path, "Wait for it to end; -Resume and Undo-DfUpgrade are for an upgrade whose process is gone. Nothing was changed.");

        public static DfException NothingToResume(string folder) =>
            new DfException("UpgradeNotFound", DfErrorCategory.ObjectNotFound, $"No unfinished upgrade is recorded in {folder}.", folder,
                "Give the -BackupPath folder of the upgrade to resume or undo.");

        public static DfException NotReady(int failed, string summary) =>
            new DfException("UpgradeNotReady", DfErrorCategory.InvalidOperation,
                $"{failed} readiness check(s) failed; nothing was stopped or changed: {summary}", null,
                "Fix what each failed check names (Test-DfUpgradeReadiness lists them), then run the upgrade again.");

        public static DfException RevertCommandMissing() =>
            new DfException("UpgradeRevertCommandMissing", DfErrorCategory.InvalidArgument,
                "-UpdateCommand was given without -RevertCommand: a failed upgrade could not put the old code back.", null,
                "Give -RevertCommand (the command that brings back the old release on a node), or -NoRollback to leave a failed upgrade for a human.");

        public static DfException RevertCommandNeeded(System.Collections.Generic.IEnumerable<string> nodes) =>
            new DfException("UpgradeRevertCommandMissing", DfErrorCategory.InvalidArgument,
                $"The update command was started on {string.Join(", ", nodes)} and the upgrade has no -RevertCommand: a rollback would start the new code over the restored databases, so nothing was undone.", null,
                "Run Undo-DfUpgrade -RevertCommand '<the command that brings back the old release on a node>'.");

        public static DfException CommandInvalid(string parameter, string why) =>
            new DfException("UpgradeCommandInvalid", DfErrorCategory.InvalidArgument, $"{parameter}: {why}.", parameter,
                "Use {node} for the node's name; nothing was changed.");
    }

    /// <summary>A step failed; says which, where, and what the rollback restored.</summary>
    public sealed class UpgradeFailedException : DfException
    {
        public UpgradeFailedException(string step, string? node, string why, string rollback, bool rolledBack, System.Exception? inner)
            : base(rolledBack ? "UpgradeRolledBack" : "UpgradeFailed", DfErrorCategory.InvalidOperation,
                  $"The upgrade failed at step {step}{(node == null ? "" : " on " + node)}: {why} {rollback}", step,
                  rolledBack ? "The cloud runs its old release again; fix the cause and run the upgrade again."
                             : "Run Invoke-DfUpgrade -Resume once the cause is fixed, or Undo-DfUpgrade to put the cloud back.", inner)
        {
            Step = step;
            Node = node;
        }

        public string Step { get; }
        /// <summary>The node the step failed on; null for a step on the whole cloud.</summary>
        public string? Node { get; }
    }
}
