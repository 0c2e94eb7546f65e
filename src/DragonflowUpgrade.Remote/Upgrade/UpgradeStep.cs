using System;
using System.Collections.Generic;

namespace DragonflowUpgrade.Remote.Upgrade
{
    public enum UpgradeStepStatus { Succeeded, Failed, Skipped, RolledBack, RollbackFailed, WouldRun, Passed, Warning }

    /// <summary>One row of an upgrade's output: a step (or a check, or an undo) on a node or on the whole cloud.</summary>
    public sealed class UpgradeStepResult
    {
        public UpgradeStepResult(string? upgradeId, string step, string? node, UpgradeStepStatus status, TimeSpan duration, string detail)
        {
            UpgradeId = upgradeId;
            Step = step;
            Node = node;
            Status = status;
            Duration = duration;
            Detail = detail;
        }

        /// <summary>The upgrade's id; null for a -WhatIf row, of no upgrade.</summary>
        public string? UpgradeId { get; }
        public string Step { get; }
        /// <summary>The node, or null for a step on the whole cloud.</summary>
        public string? Node { get; }
        public UpgradeStepStatus Status { get; }
        public TimeSpan Duration { get; }
        public string Detail { get; }
    }

    /// <summary>
    /// A step of the whole upgrade: what it does, and what puts it back. Both may run again after
    /// an interruption (the state says what was done), so each does only what is left to do.
    /// </summary>
    public interface IUpgradeStep
    {
        string Name { get; }
        /// <summary>Whether a failure from this step on rolls the cloud back (false before the control plane is stopped).</summary>
        bool RollsBack { get; }
        /// <summary>What the step would do, one line per node or for the whole cloud, for -WhatIf.</summary>
        IEnumerable<(string? Node, string Detail)> Describe(UpgradeContext context);
        void Do(UpgradeContext context);
        /// <summary>Puts back what <see cref="Do"/> did, also when it did only part of it; null when there is nothing to put back.</summary>
        void Undo(UpgradeContext context);
        /// <summary>Throws what <see cref="Undo"/> would need and lack (a password, a backup gone or damaged); changes nothing. Checked for every step begun before a rollback undoes any.</summary>
        void RequireUndoable(UpgradeContext context);
    }

    /// <summary>A step failed on a node (or the whole cloud when <see cref="Node"/> is null).</summary>
    public sealed class StepFailedException : Exception
    {
        public StepFailedException(string? node, string message, Exception? inner = null) : base(message, inner) { Node = node; }
        public string? Node { get; }
    }
}
