using System;
using System.Collections.Generic;
using DragonflowUpgrade.Engine.Safety;
using DragonflowUpgrade.Engine.Store;
using Microsoft.Extensions.Logging;

namespace DragonflowUpgrade.Engine.Run
{
    /// <summary>How a writing operation passes the guard.</summary>
    public sealed class GuardOptions
    {
        /// <param name="purpose">What takes the lock (the cmdlet), as the lock names its holder.</param>
        /// <param name="planOnly">Only plan (-WhatIf): no lock is taken, a live control plane is a warning, and the plan cannot be executed.</param>
        /// <param name="force">The operation's own override of its data checks, and only that: a resume writes over objects
        /// changed since the run, an undo loses changes made since, a restore discards an interrupted commit and accepts a
        /// backup of another database. Migrating and baselining have none.</param>
        /// <param name="serviceDownTime">How long after its last heartbeat a component counts as down; Dragonflow's 80 s when null.</param>
        /// <param name="ignoreLiveControlPlane">Go ahead while the control plane still reports in (with a warning).</param>
        /// <param name="heldLock">The database's upgrade lock, taken by the caller for longer than this operation (a whole
        /// upgrade's): the guard requires it still held instead of taking the lock, and the plan leaves it held. Null to take it.</param>
        /// <param name="canIgnoreLiveControlPlane">Whether the caller has -IgnoreLiveControlPlane: a refusal for a live control plane
        /// names it only then, else it advises stopping the control plane and running again (the whole upgrade has no such switch).</param>
        public GuardOptions(string purpose, bool planOnly, bool force = false, TimeSpan? serviceDownTime = null, bool ignoreLiveControlPlane = false,
            UpgradeLock? heldLock = null, bool canIgnoreLiveControlPlane = true)
        {
            Purpose = purpose ?? throw new ArgumentNullException(nameof(purpose));
            PlanOnly = planOnly;
            Force = force;
            ServiceDownTime = serviceDownTime ?? ControlPlaneCheck.DefaultServiceDownTime;
            IgnoreLiveControlPlane = ignoreLiveControlPlane;
            HeldLock = heldLock;
            CanIgnoreLiveControlPlane = canIgnoreLiveControlPlane;
        }

        public string Purpose { get; }
        public bool PlanOnly { get; }
        public bool Force { get; }
        public bool IgnoreLiveControlPlane { get; }
        public TimeSpan ServiceDownTime { get; }
        public UpgradeLock? HeldLock { get; }
        public bool CanIgnoreLiveControlPlane { get; }
    }

    /// <summary>
    /// What a writing operation would write to an NB database, made behind the guard (the
    /// upgrade lock, no interrupted commit, no live control plane) from what it read under the
    /// lock; <c>Execute</c> carries out exactly this plan. Dispose releases the lock.
    /// </summary>
    public abstract class WritePlan : IDisposable
    {
        readonly UpgradeGuard _guard;
        readonly List<string> _warnings = new List<string>();
        bool _executed;

        private protected WritePlan(INbStore store, UpgradeGuard guard, GuardOptions options, string doing)
        {
            Store = store;
            _guard = guard;
            Options = options;
            _doing = doing;
            WarnLiveControlPlane();
        }

        readonly string _doing;

        /// <summary>Warns of what of the control plane the guard let through (once it has checked it).</summary>
        void WarnLiveControlPlane()
        {
            foreach (var live in _guard.Live)
                Warn(Options.PlanOnly ? $"The control plane still runs: {live}." : $"-IgnoreLiveControlPlane: {_doing} while the control plane still runs: {live}.");
            if (_guard.UnreadableHeartbeats is HeartbeatInvalidException unreadable)
                Warn(Options.PlanOnly && !Options.IgnoreLiveControlPlane ? $"The run would be refused (HeartbeatInvalid): {unreadable.Message}" : $"-IgnoreLiveControlPlane: {_doing} although {unreadable.Message}");
        }

        /// <summary>The database, as the store names it (no password).</summary>
        public string Database => Store.Location;

        /// <summary>What the operator must know: what the guard let through, what migrations said.</summary>
        public IReadOnlyList<string> Warnings => _warnings;

        /// <summary>What executing the plan writes, in a sentence (what ShouldProcess shows).</summary>
        public abstract string Summary { get; }

        /// <summary>Made under -WhatIf: without the lock, and not to be executed.</summary>
        public bool PlanOnly => Options.PlanOnly;

        private protected INbStore Store { get; }
        private protected GuardOptions Options { get; }

        private protected void Warn(string warning) => _warnings.Add(warning);

        /// <summary>Refuses a second execution, one of a plan made without the lock, and one whose lock was lost or broken since.</summary>
        private protected void BeginExecute()
        {
            if (Options.PlanOnly) throw new InvalidOperationException("A plan made with planOnly holds no lock: it cannot be executed.");
            if (_executed) throw new InvalidOperationException("The plan was executed already; make a new one.");
            _executed = true;
            RequireLockHeld();
        }

        /// <summary>Refuses to go on writing once the lock was lost or broken (checked again after a long wait, before the first write).</summary>
        private protected void RequireLockHeld() => _guard.Lock?.RequireHeld(Store);

        /// <summary>
        /// Step 1 of every writing operation: the lock (not when only planning), no interrupted
        /// commit (unless <paramref name="allowInterruptedCommit"/>: what resume, undo and a forced restore
        /// deal with), and no live control plane unless forced.
        /// </summary>
        private protected static UpgradeGuard Enter(INbStore store, GuardOptions options, bool allowInterruptedCommit, ILogger? logger,
            bool controlPlaneLater = false) =>
            UpgradeGuard.Enter(store, options.Purpose, !options.PlanOnly, options.ServiceDownTime, options.IgnoreLiveControlPlane, logger, allowInterruptedCommit,
                controlPlaneLater, options.HeldLock, options.CanIgnoreLiveControlPlane);

        /// <summary>Refuses to write before the guard's check of the control plane, when it was entered with controlPlaneLater.</summary>
        private protected void RequireControlPlaneChecked()
        {
            if (_guard.ControlPlanePending) throw new InvalidOperationException("The guard has not checked the control plane yet: the plan cannot be executed.");
        }

        /// <summary>The guard's check of the control plane, when it was entered with controlPlaneLater: see <see cref="UpgradeGuard.CheckControlPlane"/>.</summary>
        private protected void CheckControlPlane(Func<string, IEnumerable<NbEntry>> rows)
        {
            _guard.CheckControlPlane(rows);
            WarnLiveControlPlane();
        }

        /// <summary>What a plan releases besides the lock, before it.</summary>
        private protected virtual void OnDispose() { }

        public void Dispose()
        {
            try { OnDispose(); }
            finally { _guard.Dispose(); }
        }
    }
}
