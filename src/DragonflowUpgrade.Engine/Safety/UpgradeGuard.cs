using System;
using System.Collections.Generic;
using DragonflowUpgrade.Engine.Migrations;
using DragonflowUpgrade.Engine.Store;
using Microsoft.Extensions.Logging;

namespace DragonflowUpgrade.Engine.Safety
{
    /// <summary>
    /// Step 1 of a run: take the upgrade lock, refuse while an interrupted commit waits, set the
    /// store to the key layout of the database's release, and refuse while the control plane is
    /// alive (unless forced), there or, for a run that reads the whole database anyway, on the
    /// heartbeat rows it read, before it writes anything. Dispose releases the lock.
    /// </summary>
    public sealed class UpgradeGuard : IDisposable
    {
        UpgradeGuard(UpgradeLock? upgradeLock, bool releases, IReadOnlyList<LiveComponent> live, HeartbeatInvalidException? unreadable)
        {
            Lock = upgradeLock;
            _releases = releases;
            Live = live;
            UnreadableHeartbeats = unreadable;
        }

        // Whether Dispose releases the lock: not one its caller holds.
        readonly bool _releases;

        // What a check of the control plane left for later (controlPlaneLater) needs.
        string _location = "", _purpose = "";
        TimeSpan _serviceDownTime;
        bool _letLiveThrough, _canIgnore;

        /// <summary>Whether the control plane is still to be checked, by <see cref="CheckControlPlane"/>.</summary>
        public bool ControlPlanePending { get; private set; }

        /// <summary>The lock held (taken by the guard, or by its caller); null when the guard was entered without one (a -WhatIf run, which writes nothing).</summary>
        public UpgradeLock? Lock { get; }

        /// <summary>What of the control plane is alive but was let through (forced, or no lock taken).</summary>
        public IReadOnlyList<LiveComponent> Live { get; private set; }

        /// <summary>Heartbeats that could not be read, let through (forced, or no lock taken): what a run not forced refuses. Null if none.</summary>
        public HeartbeatInvalidException? UnreadableHeartbeats { get; private set; }

        /// <summary>No lock and nothing checked: for a plan that writes nothing (a migration run with nothing pending).</summary>
        internal static UpgradeGuard None { get; } = new UpgradeGuard(null, false, Array.Empty<LiveComponent>(), null);

        /// <param name="store">The NB database about to be written.</param>
        /// <param name="purpose">The command entering (the cmdlet's name): the lock names it as its holder, and a refusal
        /// for a live control plane names it with the switch that overrides the refusal.</param>
        /// <param name="takeLock">Take the database's upgrade lock (held until the guard is disposed); without it a live control plane is reported, not refused.</param>
        /// <param name="serviceDownTime">How old a heartbeat must be for its service to count as stopped.</param>
        /// <param name="ignoreLiveControlPlane">Let a live control plane through (the cmdlet's -IgnoreLiveControlPlane).</param>
        /// <param name="logger">Where the guard's checks are logged; null for nowhere.</param>
        /// <param name="allowInterruptedCommit">Let an interrupted commit through: for what finishes or discards it (resume, undo, a forced restore).</param>
        /// <param name="controlPlaneLater">Check the control plane later, on heartbeat rows the caller reads anyway under the lock
        /// and before it writes anything (a migration run's snapshot): <see cref="CheckControlPlane"/>. Saves a read of the heartbeat tables.</param>
        /// <param name="heldLock">The lock, taken by the caller for longer than the guard (a whole upgrade's): required still held
        /// (<see cref="UpgradeLock.RequireHeld"/>) instead of taken, and not released by <see cref="Dispose"/>.</param>
        /// <param name="canIgnoreLiveControlPlane">Whether <paramref name="purpose"/> has -IgnoreLiveControlPlane, which a refusal then names.</param>
        public static UpgradeGuard Enter(INbStore store, string purpose, bool takeLock, TimeSpan serviceDownTime, bool ignoreLiveControlPlane, ILogger? logger = null,
            bool allowInterruptedCommit = false, bool controlPlaneLater = false, UpgradeLock? heldLock = null, bool canIgnoreLiveControlPlane = true)
        {
            if (heldLock != null && heldLock.Slot != UpgradeLock.Where(store))
                throw new InvalidOperationException($"The lock held ({heldLock.Slot}) is not the lock of the NB database being written ({UpgradeLock.Where(store)}).");
            heldLock?.RequireHeld(store);
            bool locked = heldLock != null || takeLock;
            var taken = heldLock == null && takeLock ? UpgradeLock.Acquire(store, purpose, logger) : null;
            try
            {
                if (!allowInterruptedCommit) CommitJournal.RequireNoneInProgress(store);
                // Writes go to the key layout of the release the database is at (on Redis, master's differs).
                StoredKeys.FollowRelease(store, MigrationLog.RecordedRelease(MigrationLog.Read(store)));
                if (controlPlaneLater)
                    return new UpgradeGuard(heldLock ?? taken, taken != null, Array.Empty<LiveComponent>(), null)
                    {
                        ControlPlanePending = true,
                        _location = store.Location,
                        _purpose = purpose,
                        _serviceDownTime = serviceDownTime,
                        _letLiveThrough = ignoreLiveControlPlane || !locked,
                        _canIgnore = canIgnoreLiveControlPlane,
                    };
                var live = ControlPlaneCheck.Require(store, serviceDownTime, ignoreLiveControlPlane || !locked, out var unreadable, purpose, canIgnoreLiveControlPlane);
                return new UpgradeGuard(heldLock ?? taken, taken != null, live, unreadable);
            }
            catch
            {
                taken?.Dispose();
                throw;
            }
        }

        /// <summary>
        /// The check <see cref="Enter"/> left for later, on the heartbeat tables' rows as read under the lock
        /// (<paramref name="rows"/> gives a table's, values checked as <see cref="StoredValue.Checked(INbStore, string)"/> checks them):
        /// refuses a live control plane as Enter would have. Call it before anything is written.
        /// </summary>
        public void CheckControlPlane(Func<string, IEnumerable<NbEntry>> rows)
        {
            if (!ControlPlanePending) throw new InvalidOperationException("The guard checked the control plane when it was entered.");
            Live = ControlPlaneCheck.Require(_location, rows, _serviceDownTime, _letLiveThrough, out var unreadable, _purpose, _canIgnore);
            UnreadableHeartbeats = unreadable;
            ControlPlanePending = false;
        }

        public void Dispose()
        {
            if (_releases) Lock?.Dispose();
        }
    }
}
