using System;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Text;
using System.Text.Json;
using System.Threading;
using DragonflowUpgrade.Engine.Store;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using StackExchange.Redis;

namespace DragonflowUpgrade.Engine.Safety
{
    /// <summary>Who holds an upgrade lock: host, process, user, what for, since when and until when.</summary>
    public sealed class UpgradeLockInfo
    {
        public string Host { get; private set; }
        public int ProcessId { get; private set; }
        public string User { get; private set; }
        public string Purpose { get; private set; }
        public DateTimeOffset StartedAt { get; private set; }
        public DateTimeOffset ExpiresAt { get; private set; }
        /// <summary>Random; tells this holder from a later one of the same process.</summary>
        public string Token { get; private set; }

        public bool IsLocal => string.Equals(Host, Environment.MachineName, StringComparison.OrdinalIgnoreCase);
        public bool IsExpired => DateTimeOffset.UtcNow >= ExpiresAt;

        /// <summary>The owner is provably gone: the lock expired, or its process no longer runs on this host.</summary>
        public bool OwnerGone => IsExpired || (IsLocal && !ProcessRuns(ProcessId, StartedAt));

        /// <summary>The owner is a process of this host that still runs.</summary>
        public bool OwnerAlive => IsLocal && !IsExpired && ProcessRuns(ProcessId, StartedAt);

        internal static UpgradeLockInfo New(string purpose, TimeSpan ttl)
        {
            var now = DateTimeOffset.UtcNow;
            return new UpgradeLockInfo
            {
                Host = Environment.MachineName,
                ProcessId = Process.GetCurrentProcess().Id,
                User = Environment.UserName,
                Purpose = purpose,
                StartedAt = now,
                ExpiresAt = now + ttl,
                Token = Guid.NewGuid().ToString("N"),
            };
        }

        internal UpgradeLockInfo Extended(TimeSpan ttl)
        {
            var copy = (UpgradeLockInfo)MemberwiseClone();
            copy.ExpiresAt = DateTimeOffset.UtcNow + ttl;
            return copy;
        }

        internal string ToJson()
        {
            var buffer = new MemoryStream();
            using (var w = new Utf8JsonWriter(buffer))
            {
                w.WriteStartObject();
                w.WriteString("host", Host);
                w.WriteNumber("pid", ProcessId);
                w.WriteString("user", User);
                w.WriteString("purpose", Purpose);
                w.WriteString("started_at", Format(StartedAt));
                w.WriteString("expires_at", Format(ExpiresAt));
                w.WriteString("token", Token);
                w.WriteEndObject();
            }
            return Encoding.UTF8.GetString(buffer.ToArray());
        }

        internal static UpgradeLockInfo Parse(string json, string where)
        {
            try
            {
                using (var doc = JsonDocument.Parse(json))
                {
                    var r = doc.RootElement;
                    return new UpgradeLockInfo
                    {
                        Host = Text(r, "host") ?? "an unknown host",
                        ProcessId = r.TryGetProperty("pid", out var p) && p.TryGetInt32(out int pid) ? pid : 0,
                        User = Text(r, "user"),
                        Purpose = Text(r, "purpose") ?? "an unknown purpose",
                        StartedAt = ParseTime(Text(r, "started_at")) ?? DateTimeOffset.MinValue,
                        ExpiresAt = ParseTime(Text(r, "expires_at")) ?? DateTimeOffset.MaxValue,
                        Token = Text(r, "token") ?? json,
                    };
                }
            }
            catch (JsonException e)
            {
                throw new NbStoreException($"The upgrade lock at {where} is not valid JSON ({e.Message}); remove it with Unlock-DfNbDatabase -Force.", e);
            }
        }

        static string Text(JsonElement r, string name) =>
            r.ValueKind == JsonValueKind.Object && r.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

        internal static string Format(DateTimeOffset t) =>
            t.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

        internal static DateTimeOffset? ParseTime(string s) =>
            s != null && DateTimeOffset.TryParse(s, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var t) ? t : (DateTimeOffset?)null;

        /// <summary>Whether process <paramref name="pid"/> of this host runs and is not a later process that reused the number.</summary>
        static bool ProcessRuns(int pid, DateTimeOffset lockedAt)
        {
            try
            {
                using (var p = Process.GetProcessById(pid))
                {
                    if (p.HasExited) return false;
                    try { return p.StartTime.ToUniversalTime() <= lockedAt.UtcDateTime.AddSeconds(5); }
                    catch (InvalidOperationException) { return false; }
                    catch (System.ComponentModel.Win32Exception) { return true; }
                }
            }
            catch (ArgumentException) { return false; }
            catch (InvalidOperationException) { return false; }
        }

        public override string ToString() =>
            $"{Purpose} (process {ProcessId} of {User ?? "an unknown user"} on {Host}, since {Format(StartedAt)}, until {Format(ExpiresAt)})";
    }

    /// <summary>
    /// The upgrade lock: one entry per NB database saying which run may write it. On Redis it
    /// is the key <c>{df_upgrade_lock.}.lock</c>, taken with SET NX PX so that it expires by
    /// itself; beside an embedded file database it is the file <c>&lt;database&gt;.lock</c>,
    /// created exclusively. A run holds it with a heartbeat that keeps pushing the expiry
    /// back; a lock whose owner is provably gone (expired, or its process no longer runs on
    /// this host) is taken over. Locks taken by <see cref="Hold"/> belong to this process
    /// until <see cref="Unlock"/>; runs in the same process then share them.
    /// </summary>
    public sealed class UpgradeLock : IDisposable
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
        ManualResetEventSlim _stopBeating;
        string _current;
        bool _released;

        UpgradeLock(ILockSlot slot, UpgradeLockInfo info, TimeSpan ttl, bool owned, ILogger logger)
        {
            _slot = slot;
            Info = info;
            _current = info.ToJson();
            _ttl = ttl;
            _owned = owned;
            _logger = logger ?? NullLogger.Instance;
        }

        public UpgradeLockInfo Info { get; private set; }

        /// <summary>False when this run uses a lock that the session took with <see cref="Hold"/>; releasing it then does nothing.</summary>
        public bool Owned => _owned;

        /// <summary>The heartbeat found the lock taken from this run (broken with -Force).</summary>
        public bool Lost { get; private set; }

        /// <summary>Who holds the lock of <paramref name="store"/>; null when nobody (or the lock expired).</summary>
        public static UpgradeLockInfo Read(INbStore store)
        {
            var slot = SlotOf(store);
            string held = slot.Read();
            if (held == null) return null;
            var info = UpgradeLockInfo.Parse(held, slot.Where);
            return info.IsExpired ? null : info;
        }

        /// <summary>Whether this process took the lock with <see cref="Hold"/> and still holds it.</summary>
        public static bool IsHeldBySession(UpgradeLockInfo info) => info != null && HeldBySession.ContainsKey(info.Token);

        /// <summary>
        /// Takes the lock for a run, with a heartbeat; refuses with <see cref="UpgradeLockedException"/>
        /// naming the holder. Dispose releases it.
        /// </summary>
        public static UpgradeLock Acquire(INbStore store, string purpose, ILogger logger = null) =>
            Take(store, purpose, RunTtl, heartbeat: true, logger: logger);

        /// <summary>Takes the lock for this session until <see cref="Unlock"/> or <paramref name="ttl"/> passes, without a heartbeat.</summary>
        public static UpgradeLockInfo Hold(INbStore store, string purpose, TimeSpan ttl, ILogger logger = null)
        {
            var slot = SlotOf(store);
            string held = slot.Read();
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
        /// lock released, or null when there was none.
        /// </summary>
        public static UpgradeLockInfo Unlock(INbStore store, bool force)
        {
            var slot = SlotOf(store);
            string held = slot.Read();
            if (held == null) return null;
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
            return holder;
        }

        internal static UpgradeLock Take(INbStore store, string purpose, TimeSpan ttl, bool heartbeat, ILogger logger = null)
        {
            var slot = SlotOf(store);
            var info = UpgradeLockInfo.New(purpose, ttl);
            for (int attempt = 0; attempt < 5; attempt++)
            {
                if (slot.TryCreate(info.ToJson(), ttl))
                    return Started(new UpgradeLock(slot, info, ttl, true, logger), heartbeat);
                string held = slot.Read();
                if (held == null) continue; // released in between
                var holder = UpgradeLockInfo.Parse(held, slot.Where);
                if (IsHeldBySession(holder) && !holder.IsExpired)
                    return new UpgradeLock(slot, holder, ttl, false, logger);
                if (!holder.OwnerGone)
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

        static UpgradeLock Started(UpgradeLock l, bool heartbeat)
        {
            if (heartbeat)
            {
                // A thread of its own, not a pool thread: a beat blocks on the store, and the store's replies need the pool.
                var stop = l._stopBeating = new ManualResetEventSlim();
                var period = TimeSpan.FromTicks(l._ttl.Ticks / 4);
                new Thread(() => { while (!stop.Wait(period)) l.Beat(); }) { IsBackground = true, Name = "Upgrade lock heartbeat" }.Start();
            }
            return l;
        }

        // Runs on the heartbeat thread: it must not log (the cmdlets' logger writes to the pipeline) nor throw.
        void Beat()
        {
            lock (_gate)
            {
                if (_released || Lost) return;
                try
                {
                    var next = Info.Extended(_ttl);
                    string json = next.ToJson();
                    if (_slot.Replace(_current, json, _ttl)) { _current = json; Info = next; }
                    else Lost = true;
                }
                catch (Exception) { } // the next beat tries again; the lock outlives a few misses
            }
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
            if (!_owned) return;
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

        static ILockSlot SlotOf(INbStore store)
        {
            switch (store)
            {
                case RedisNbStore redis: return new RedisSlot(redis);
                case EtcdNbStore etcd: return new EtcdSlot(etcd);
                case FileNbStore file: return new FileSlot(file.Path + ".lock");
                default: throw new NbStoreException($"{store.Location}: this kind of database has no upgrade lock.");
            }
        }

        /// <summary>Where a lock lives: created only if absent, replaced and deleted only if it still holds what the caller read.</summary>
        interface ILockSlot
        {
            string Where { get; }
            bool TryCreate(string value, TimeSpan ttl);
            string Read();
            bool Replace(string expected, string value, TimeSpan ttl);
            bool Delete(string expected);
        }

        sealed class RedisSlot : ILockSlot
        {
            const string ReplaceScript = "if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) return 1 end return 0";
            const string DeleteScript = "if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) return 1 end return 0";
            readonly IDatabase _db;
            readonly RedisKey _key = RedisNbStore.FormatKey(new NbKey(Table, null, Id));
            readonly string _location;

            public RedisSlot(RedisNbStore store)
            {
                _db = store.Database;
                _location = store.Location;
            }

            public string Where => $"{_location} key {_key}";

            public bool TryCreate(string value, TimeSpan ttl) => Do(() => _db.StringSet(_key, value, ttl, When.NotExists));
            public string Read() => Do(() => (string)_db.StringGet(_key));
            public bool Replace(string expected, string value, TimeSpan ttl) =>
                Do(() => (int)_db.ScriptEvaluate(ReplaceScript, new[] { _key }, new RedisValue[] { expected, value, (long)ttl.TotalMilliseconds }) == 1);
            public bool Delete(string expected) =>
                Do(() => (int)_db.ScriptEvaluate(DeleteScript, new[] { _key }, new RedisValue[] { expected }) == 1);

            T Do<T>(Func<T> op)
            {
                try { return op(); }
                catch (RedisException e) { throw Failure(e); }
                catch (TimeoutException e) { throw Failure(e); }
            }

            // StackExchange.Redis appends its connection state to messages: keep the sentence before it.
            NbStoreException Failure(Exception e) =>
                new NbStoreException($"Could not use the upgrade lock of the Redis NB database at {_location}: {e.Message.Split('\n')[0].Split(';')[0]}.", e);
        }

        /// <summary>
        /// The etcd key <c>/df_upgrade_lock/lock</c>, under a lease of the lock's time to live so
        /// that it expires by itself. Created in a transaction that compares its create revision
        /// with 0; replaced (under a new lease, the old one revoked) and deleted in transactions
        /// that compare its value with what the caller read.
        /// </summary>
        sealed class EtcdSlot : ILockSlot
        {
            readonly EtcdNbStore _store;
            readonly string _key = EtcdNbStore.FormatKey(new NbKey(Table, null, Id));

            public EtcdSlot(EtcdNbStore store) { _store = store; }

            public string Where => $"{_store.Location} key {_key}";

            public bool TryCreate(string value, TimeSpan ttl) => _store.PutIf(_key, null, value, ttl);
            public string Read() => _store.ReadValue(_key);
            public bool Replace(string expected, string value, TimeSpan ttl) => _store.PutIf(_key, expected, value, ttl);
            public bool Delete(string expected) => _store.DeleteIf(_key, expected);
        }

        /// <summary>
        /// The lock file beside an embedded database. Creation is atomic (create-new); replacing
        /// and deleting compare the content first, which is enough between the few processes of
        /// one host that share a file database.
        /// </summary>
        sealed class FileSlot : ILockSlot
        {
            readonly string _path;
            public FileSlot(string path) { _path = path; }
            public string Where => _path;

            public bool TryCreate(string value, TimeSpan ttl)
            {
                try
                {
                    using (var f = new FileStream(_path, FileMode.CreateNew, FileAccess.Write, FileShare.Read))
                    {
                        var bytes = Encoding.UTF8.GetBytes(value);
                        f.Write(bytes, 0, bytes.Length);
                        f.Flush(true);
                    }
                    return true;
                }
                catch (IOException) when (File.Exists(_path)) { return false; }
                catch (Exception e) when (e is IOException || e is UnauthorizedAccessException)
                {
                    throw new NbStoreException($"Cannot create the lock file {_path}: {e.Message}", e);
                }
            }

            public string Read()
            {
                try { return File.ReadAllText(_path, Encoding.UTF8); }
                catch (FileNotFoundException) { return null; }
                catch (DirectoryNotFoundException) { return null; }
                catch (Exception e) when (e is IOException || e is UnauthorizedAccessException)
                {
                    throw new NbStoreException($"Cannot read the lock file {_path}: {e.Message}", e);
                }
            }

            public bool Replace(string expected, string value, TimeSpan ttl)
            {
                if (Read() != expected) return false;
                string temp = _path + "." + Guid.NewGuid().ToString("N") + ".tmp";
                try
                {
                    File.WriteAllText(temp, value, new UTF8Encoding(false));
                    File.Replace(temp, _path, null);
                    return true;
                }
                catch (Exception e) when (e is IOException || e is UnauthorizedAccessException)
                {
                    throw new NbStoreException($"Cannot write the lock file {_path}: {e.Message}", e);
                }
                finally
                {
                    try { File.Delete(temp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
                }
            }

            public bool Delete(string expected)
            {
                if (Read() != expected) return false;
                try { File.Delete(_path); return true; }
                catch (Exception e) when (e is IOException || e is UnauthorizedAccessException)
                {
                    throw new NbStoreException($"Cannot remove the lock file {_path}: {e.Message}", e);
                }
            }
        }
    }
}
