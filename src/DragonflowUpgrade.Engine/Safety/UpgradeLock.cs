using System;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.IO;
using System.Threading;
using DragonflowUpgrade.Engine.Store;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace DragonflowUpgrade.Engine.Safety
{
    /// <summary>
    /// The upgrade lock: one entry per NB database saying which run may write it, in a slot the
    /// store supplies (<see cref="NbStoreParts.LockSlot"/>): on Redis the key
    /// <c>{df_upgrade_lock.}.lock</c>, expiring by itself; beside an embedded file database the
    /// file <c>&lt;database&gt;.lock</c>, created exclusively. A run holds it with a heartbeat
    /// (see UpgradeLock.Heartbeat.cs) that keeps pushing the expiry back; a lock whose owner is provably gone (expired, or its process no longer runs on
    /// this host) is taken over. Locks taken by <see cref="Hold"/> belong to this process
    /// until <see cref="Unlock"/>; runs in the same process then share them.
    /// </summary>
    public sealed partial class UpgradeLock : IDisposable
    {
        public const string Table = "df_upgrade_lock";
        public const string Id = "lock";

        /// <summary>How long a run's lock lives without a heartbeat.</summary>
        public static readonly TimeSpan RunTtl = TimeSpan.FromMinutes(2);

        static readonly ConcurrentDictionary<string, UpgradeLockInfo> HeldBySession = new ConcurrentDictionary<string, UpgradeLockInfo>();

        readonly ILockSlot _slot;
        readonly TimeSpan _ttl;
        readonly bool _owned;
        readonly ILogger _logger;
        readonly object _gate = new object();
        // The session's lock as it was before this run named its upgrade in it; put back when the run ends.
        readonly UpgradeLockInfo? _session;
        ManualResetEventSlim? _stopBeating;
        string _current;
        bool _released;

        UpgradeLock(ILockSlot slot, UpgradeLockInfo info, TimeSpan ttl, bool owned, ILogger? logger, string? current = null, UpgradeLockInfo? session = null)
        {
            _slot = slot;
            Info = info;
            _current = current ?? info.ToJson();
            _session = session;
            _ttl = ttl;
            _owned = owned;
            _logger = logger ?? NullLogger.Instance;
        }

        public UpgradeLockInfo Info { get; private set; }

        /// <summary>Where this lock is, fit to print, as <see cref="Where(INbStore)"/> gives it for its database.</summary>
        public string Slot => _slot.Where;

        /// <summary>False when this run uses a lock that the session took with <see cref="Hold"/>; releasing it then does nothing.</summary>
        public bool Owned => _owned;

        /// <summary>The heartbeat found the lock taken from this run (broken with -Force).</summary>
        public bool Lost { get; private set; }

        /// <summary>Who holds the lock of <paramref name="store"/>; null when nobody (or the lock expired).</summary>
        public static UpgradeLockInfo? Read(INbStore store)
        {
            var slot = SlotOf(store);
            string? held = slot.Read();
            if (held == null) return null;
            var info = UpgradeLockInfo.Parse(held, slot.Where);
            return info.IsExpired ? null : info;
        }

        /// <summary>Whether this process took the lock with <see cref="Hold"/> and still holds it.</summary>
        public static bool IsHeldBySession(UpgradeLockInfo? info) => info != null && HeldBySession.ContainsKey(info.Token);

        /// <summary>
        /// Takes the lock for a run, with a heartbeat; refuses with <see cref="UpgradeLockedException"/>
        /// naming the holder. Dispose releases it. <paramref name="upgrade"/>: the id of the whole
        /// upgrade the run is, recorded in the lock; a dead holder's lock that names an upgrade is
        /// taken over only by a run of that same upgrade (its resume or undo).
        /// </summary>
        public static UpgradeLock Acquire(INbStore store, string purpose, ILogger? logger = null, string? upgrade = null) =>
            Take(store, purpose, RunTtl, heartbeat: true, logger: logger, upgrade: upgrade);

        /// <summary>Takes the lock for this session until <see cref="Unlock"/> or <paramref name="ttl"/> passes, without a heartbeat.</summary>
        public static UpgradeLockInfo Hold(INbStore store, string purpose, TimeSpan ttl, ILogger? logger = null)
        {
            var slot = SlotOf(store);
            string? held = slot.Read();
            if (held != null)
            {
                var holder = UpgradeLockInfo.Parse(held, slot.Where);
                if (IsHeldBySession(holder))
                {
                    var extended = holder.Extended(ttl);
                    if (slot.Replace(held, extended.ToJson(), ttl))
                    {
                        HeldBySession.TryRemove(holder.Token, out _);
                        HeldBySession[extended.Token] = extended;
                        return extended;
                    }
                }
            }
            var taken = Take(store, purpose, ttl, heartbeat: false, logger: logger);
            if (!taken.Owned) return taken.Info;
            HeldBySession[taken.Info.Token] = taken.Info;
            return taken.Info;
        }

        /// <summary>
        /// Releases the lock. Without <paramref name="force"/>, only a lock this session holds;
        /// with it, any lock whose owner is not a running process of this host. Returns the
        /// lock released, or null when there was none. <paramref name="force"/> also discards the
        /// record of an upgrade under way (<see cref="UpgradeUnderWay"/>).
        /// </summary>
        public static UpgradeLockInfo? Unlock(INbStore store, bool force)
        {
            var slot = SlotOf(store);
            string? held = slot.Read();
            if (held == null)
            {
                if (force) UpgradeUnderWay.End(store);
                return null;
            }
            var holder = UpgradeLockInfo.Parse(held, slot.Where);
            if (!IsHeldBySession(holder))
            {
                if (!force && !holder.IsExpired)
                    throw new UpgradeLockedException(store.Location, holder);
                if (holder.OwnerAlive && holder.ProcessId != Process.GetCurrentProcess().Id)
                    throw new Errors.DfException(UpgradeLockedException.Id, Errors.DfErrorCategory.ResourceBusy,
                        $"The NB database {store.Location} is locked by {holder}, and that process still runs: stop it rather than break its lock.",
                        store.Location, "Wait for that run to end, or stop it; its lock goes with it.");
            }
            slot.Delete(held);
            HeldBySession.TryRemove(holder.Token, out _);
            if (force) UpgradeUnderWay.End(store);
            return holder;
        }

        internal static UpgradeLock Take(INbStore store, string purpose, TimeSpan ttl, bool heartbeat, ILogger? logger = null, string? upgrade = null)
        {
            // An upgrade that did not finish outlives its lock: only that upgrade's own runs may take it.
            UpgradeUnderWay.RequireNoOther(store, upgrade);
            var slot = SlotOf(store);
            var info = UpgradeLockInfo.New(purpose, ttl, upgrade);
            for (int attempt = 0; attempt < 5; attempt++)
            {
                if (slot.TryCreate(info.ToJson(), ttl))
                    return Started(new UpgradeLock(slot, info, ttl, true, logger), heartbeat);
                string? held = slot.Read();
                if (held == null) continue; // released in between
                var holder = UpgradeLockInfo.Parse(held, slot.Where);
                if (IsHeldBySession(holder) && !holder.IsExpired)
                {
                    if (!heartbeat) return new UpgradeLock(slot, holder, ttl, false, logger, held);
                    // The session's lock is renewed while the run uses it (it could expire mid-run), and names the run's upgrade.
                    var used = holder.ForUpgrade(upgrade ?? holder.Upgrade).ExtendedAtLeast(ttl);
                    string json = used.ToJson();
                    if (!slot.Replace(held, json, used.ExpiresAt - DateTimeOffset.UtcNow)) continue;
                    return Started(new UpgradeLock(slot, used, ttl, false, logger, json, holder), heartbeat);
                }
                if (!holder.OwnerGone || (holder.Upgrade != null && holder.Upgrade != upgrade))
                    throw new UpgradeLockedException(store.Location, holder);
                if (slot.Replace(held, info.ToJson(), ttl))
                {
                    (logger ?? NullLogger.Instance).LogInformation("Took over the upgrade lock of {Database} from {Holder}, which is gone.", store.Location, holder);
                    return Started(new UpgradeLock(slot, info, ttl, true, logger), heartbeat);
                }
            }
            var last = slot.Read();
            if (last != null) throw new UpgradeLockedException(store.Location, UpgradeLockInfo.Parse(last, slot.Where));
            throw new NbStoreException($"Could not take the upgrade lock of {store.Location}: it changed hands repeatedly. Try again.");
        }

        /// <summary>Releases the lock if this run took it; errors are logged, not thrown, so they never hide the run's own.</summary>
        public void Dispose()
        {
            lock (_gate)
            {
                if (_released) return;
                _released = true;
            }
            _stopBeating?.Set();
            if (!_owned)
            {
                if (_session == null || Lost) return;
                try
                {
                    lock (_gate)
                    {
                        var back = Info.ForUpgrade(_session.Upgrade);
                        _slot.Replace(_current, back.ToJson(), back.ExpiresAt - DateTimeOffset.UtcNow);
                    }
                }
                catch (Exception e) when (e is NbStoreException || e is IOException || e is UnauthorizedAccessException)
                {
                    _logger.LogWarning("Could not hand the session's upgrade lock back: {Error}.", e.Message);
                }
                return;
            }
            if (Lost)
            {
                _logger.LogWarning("The upgrade lock was taken from this run while it ran (broken with Unlock-DfNbDatabase -Force?).");
                return;
            }
            try
            {
                lock (_gate)
                    if (!_slot.Delete(_current))
                        _logger.LogWarning("The upgrade lock was no longer this run's when it ended.");
            }
            catch (Exception e) when (e is NbStoreException || e is IOException || e is UnauthorizedAccessException)
            {
                _logger.LogWarning("Could not release the upgrade lock: {Error}. It expires by itself within {Ttl}.", e.Message, _ttl);
            }
        }

        /// <summary>
        /// Refuses to go on writing unless this run still holds the lock: not taken from it (broken
        /// with -Force), not expired nor removed (its renewal could not reach the database in time).
        /// </summary>
        public void RequireHeld(INbStore store)
        {
            string? now;
            lock (_gate)
            {
                now = Lost ? null : _slot.Read();
                if (now == _current && !Info.IsExpired) return;
                // Its own lock past its expiry, still in a slot that does not expire it itself (a file, an
                // etcd lease not yet ended): lost, not held by another.
                if (now != null) Lost = true;
                if (now == _current) now = null;
            }
            if (now != null) throw new UpgradeLockedException(store.Location, UpgradeLockInfo.Parse(now, _slot.Where));
            throw new Errors.DfException(UpgradeLockedException.Id, Errors.DfErrorCategory.ResourceBusy,
                $"This run's lock of the NB database {store.Location} was lost (it expired at {UpgradeLockInfo.Format(Info.ExpiresAt)}, or was broken): another writer may take it, so nothing more is written.",
                store.Location, "Run the operation again once the database answers; for a whole upgrade, Invoke-DfUpgrade -Resume.");
        }

        /// <summary>Where the lock of <paramref name="store"/> is, fit to print (for a file database, the lock file's path).</summary>
        public static string Where(INbStore store) => SlotOf(store).Where;

        static ILockSlot SlotOf(INbStore store) => store.Parts.LockSlot(new NbKey(Table, null, Id));
    }
}
