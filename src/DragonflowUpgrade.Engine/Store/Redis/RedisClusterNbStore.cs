using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Net;
using System.Runtime.ExceptionServices;
using System.Security.Authentication;
using System.Threading;
using System.Threading.Tasks;
using StackExchange.Redis;

namespace DragonflowUpgrade.Engine.Store
{
    /// <summary>
    /// A Dragonflow NB database in a Redis Cluster, in the key layouts of <see cref="RedisKeys"/>:
    /// Dragonflow's <c>{table.topic}</c> hash tag puts each table's topic on one slot.
    /// StackExchange.Redis finds the cluster from any reachable seed (its <c>CLUSTER NODES</c>),
    /// computes slots and holds the upgrade lock, whose single-key commands it routes. The bulk
    /// reads and writes go to each master over a <see cref="RedisNbStore"/> of its own (the
    /// store's RESP connection, whose batches there are cut at slot changes): reads SCAN every
    /// master, writes are grouped by master, in slot order, pipelined, and sent to every master at
    /// once, a thread each.
    /// <para>
    /// A conditional batch is one script per slot: atomic on its slot, not across slots. That is
    /// safe because every conditional write the engine makes is repeatable: a commit's changes are
    /// in its journal before the first batch, and Resume-DfMigration accepts a key that already
    /// holds what the journal puts there, so a commit stopped between two slots' scripts is finished
    /// by a resume as one stopped between two batches is.
    /// </para>
    /// <para>
    /// The masters are fixed when the store opens. A master that answers MOVED or ASK (its slot went
    /// elsewhere), CLUSTERDOWN or TRYAGAIN, or whose connection is lost (a failover), fails the
    /// operation with <see cref="NbClusterChangedException"/> rather than be followed: a batch is
    /// never written by halves on a guess of where its keys went. A master that does not answer
    /// within 30 s fails it with <see cref="NbClusterTimeoutException"/>, naming the master.
    /// </para>
    /// </summary>
    public sealed class RedisClusterNbStore : INbStore
    {
        const int Slots = 16384;
        static readonly TimeSpan ReplyTimeout = TimeSpan.FromSeconds(30);
        static readonly TimeSpan ReplicaTimeout = TimeSpan.FromSeconds(10);

        readonly ConnectionMultiplexer _multiplexer;
        readonly List<RedisNbStore> _masters = new List<RedisNbStore>();
        readonly int[] _owner = new int[Slots];   // the index in _masters of each slot's master
        readonly ConcurrentDictionary<(string, string?), int> _slots = new ConcurrentDictionary<(string, string?), int>();   // read by every master's thread
        ClusterTopology? _topology;   // the masters, their slots and epochs when the store opened
        readonly List<int> _replicas = new List<int>();   // how many replicas each master had, not failing, when the store opened
        TimeSpan _replicaTimeout;

        RedisClusterNbStore(ConnectionMultiplexer multiplexer, string location)
        {
            _multiplexer = multiplexer;
            Location = location;
            Parts = new ClusterParts(this);
        }

        public string Location { get; }

        public NbStoreParts Parts { get; }

        /// <summary>Opens <c>redis-cluster://[[user]:password@]host:port[,host:port…]</c>, or <c>rediss-cluster://</c> over TLS.</summary>
        public static RedisClusterNbStore Open(NbDatabaseUri uri) => Open(uri, ReplyTimeout);

        /// <summary>As <see cref="Open(NbDatabaseUri)"/>, a master's reply given up after <paramref name="replyTimeout"/>.</summary>
        internal static RedisClusterNbStore Open(NbDatabaseUri uri, TimeSpan replyTimeout)
        {
            if (uri.Kind != "redis-cluster") throw new NbDatabaseUriException(uri.Display, $"'{uri.Display}' is not a Redis Cluster URI (redis-cluster://host:port[,host:port…]).");
            string location = uri.Location;
            var tls = NbTls.Load(uri);
            // Every seed whose certificate was refused, with why: each may have its own reason.
            var refusals = new SortedDictionary<string, string>(StringComparer.Ordinal);
            var options = RedisNbStore.Options(uri, tls, (node, problem) => { lock (refusals) refusals[node.ToString()] = problem; });
            string? Refused() { lock (refusals) return refusals.Count == 0 ? null : string.Join("; ", refusals.Select(r => $"node {r.Key}: {r.Value}")); }
            // Any seed that answers will do: the others may be down.
            options.AbortOnConnectFail = false;
            ConnectionMultiplexer multiplexer;
            try { multiplexer = ConnectionMultiplexer.Connect(options); }
            catch (RedisConnectionException e) when (Refused() != null) { throw new NbCertificateException(location, Refused()!, e); }
            catch (RedisConnectionException e) { throw RedisNbStore.Unreachable(location, e, uri.Password, tls != null); }
            // A replica's acknowledgement is waited for within the time a master's reply is.
            var store = new RedisClusterNbStore(multiplexer, location) { _replicaTimeout = TimeSpan.FromTicks(Math.Min(ReplicaTimeout.Ticks, replyTimeout.Ticks / 2)) };
            try
            {
                if (!multiplexer.IsConnected)
                {
                    if (Refused() is string refused) throw new NbCertificateException(location, refused);
                    throw RedisNbStore.Unreachable(location, new RedisConnectionException(ConnectionFailureType.UnableToConnect,
                        "no seed answered."), uri.Password, tls != null);
                }
                store.FindMasters(uri, tls, replyTimeout);
                return store;
            }
            catch
            {
                store.Dispose();
                throw;
            }
        }

        // The masters and their slots, as a connected node sees them; every slot must have a master that is not failing.
        void FindMasters(NbDatabaseUri uri, NbTls? tls, TimeSpan replyTimeout)
        {
            var seed = _multiplexer.GetEndPoints().Select(e => _multiplexer.GetServer(e)).FirstOrDefault(s => s.IsConnected)
                ?? throw RedisNbStore.Unreachable(Location, new RedisConnectionException(ConnectionFailureType.UnableToConnect, "no seed answered."), uri.Password, tls != null);
            // What the seed said on connecting (CLUSTER NODES), or null from a server that is no cluster's node.
            var nodes = seed.ServerType == ServerType.Cluster ? seed.ClusterConfiguration : null;
            if (nodes == null) throw new NbStoreException($"{Location} is not a Redis Cluster (cluster support is disabled there). Give a single Redis server as redis://host:port.");
            _topology = ClusterTopology.Parse(string.Join("\n", nodes.Nodes.Select(n => n.Raw)));
            for (int i = 0; i < Slots; i++) _owner[i] = -1;
            foreach (var node in nodes.Nodes.Where(n => !n.IsReplica && n.Slots.Count > 0).OrderBy(n => n.EndPoint?.ToString(), StringComparer.Ordinal))
            {
                var endpoint = EndpointOf(node.EndPoint);
                string ranges = string.Join(",", node.Slots.Select(r => r.From == r.To ? r.From.ToString(CultureInfo.InvariantCulture) : $"{r.From}-{r.To}"));
                string master = $"master {endpoint} (slots {ranges})";
                if (node.IsFail || node.IsPossiblyFail)
                    throw NbClusterChangedException.NotWhole(Location, $"{master} is failing. Wait for a replica to take over.");
                foreach (var range in node.Slots)
                    for (int slot = range.From; slot <= range.To; slot++) _owner[slot] = _masters.Count;
                _replicas.Add(nodes.Nodes.Count(n => n.IsReplica && n.ParentNodeId == node.NodeId && !n.IsFail && !n.IsPossiblyFail));
                try { _masters.Add(RedisNbStore.OpenClusterMaster(endpoint, RedisNbStore.UserOf(uri), uri.Password, tls, Location, SlotOf, master, replyTimeout)); }
                catch (AuthenticationException e) { throw new NbCertificateException(Location, $"{master}: {e.Message}", e); }
                catch (TimeoutException e) { throw new NbClusterTimeoutException(Location, master, endpoint, "open", e.Message, e); }
                // Refused by the master itself (a user or password it does not have): as a single server's refusal.
                catch (RespErrorException e) when (!NbClusterChangedException.IsRedirect(e.Message)) { throw RedisNbStore.Unreachable(Location, e, uri.Password, tls != null); }
                catch (Exception e) when (e is System.Net.Sockets.SocketException || e is System.IO.IOException || e is RespErrorException)
                {
                    throw NbClusterChangedException.Lost(Location, master, "open", e.Message, e);
                }
            }
            int uncovered = Array.IndexOf(_owner, -1);
            if (uncovered >= 0)
                throw NbClusterChangedException.NotWhole(Location, $"slot {uncovered} has no master. Wait for cluster_state:ok, or assign the slot (redis-cli --cluster fix).");
        }

        internal static NbEndpoint EndpointOf(EndPoint? endpoint)
        {
            switch (endpoint)
            {
                case IPEndPoint ip: return new NbEndpoint(ip.Address.ToString(), ip.Port);
                case DnsEndPoint dns: return new NbEndpoint(dns.Host, dns.Port);
                default: throw new NbStoreException($"A node of the Redis Cluster has an address the module cannot use: {endpoint}.");
            }
        }

        // The slot of a key is its hash tag's, {table.topic}, whatever the layout; a table's topics are few.
        int SlotOf(NbKey key)
        {
            if (!_slots.TryGetValue((key.Table, key.Topic), out int slot))
                _slots.TryAdd((key.Table, key.Topic), slot = _multiplexer.HashSlot("{" + key.Table + "." + key.Topic + "}"));
            return slot;
        }

        RedisNbStore MasterOf(NbKey key) => _masters[_owner[SlotOf(key)]];

        public IEnumerable<NbEntry> Read(string? table = null) =>
            // The log's rows and its set of keys, and the commit's records, each share one slot: its master reads them by key.
            RedisNbStore.ReadByKey(table) ? MasterOf(new NbKey(table, null, "")).Read(table) : FromEveryMaster(m => m.Read(table));

        public IEnumerable<NbEntry> ReadTables(IReadOnlyCollection<string> tables)
        {
            tables = NbTables.Distinct(tables);
            if (tables.Count == 0) return Enumerable.Empty<NbEntry>();
            return tables.Any(RedisNbStore.ReadByKey) ? tables.SelectMany(t => Read(t)) : FromEveryMaster(m => m.ReadTables(tables));
        }

        public IEnumerable<NbKey> ReadKeys(string? table = null) => FromEveryMaster(m => m.ReadKeys(table));

        // The masters are scanned one after another: a slot that moved meanwhile from one not yet
        // scanned to one already scanned would be missed, so the cluster is asked again at the end.
        IEnumerable<T> FromEveryMaster<T>(Func<RedisNbStore, IEnumerable<T>> read)
        {
            foreach (var master in _masters)
                foreach (var item in read(master)) yield return item;
            foreach (var master in _masters) RequireUnchanged(master, "read");
        }

        /// <summary>
        /// Throws <see cref="NbClusterChangedException"/> when <paramref name="master"/> sees masters,
        /// slots or config epochs other than the store saw at open, or a slot moving.
        /// </summary>
        void RequireUnchanged(RedisNbStore master, string what)
        {
            string? change = _topology!.ChangeTo(ClusterTopology.Parse(master.ClusterNodes(what)));
            if (change != null) throw NbClusterChangedException.Changed(Location, what, change);
        }

        public void Write(IReadOnlyCollection<NbEntry> changes, IProgress<int>? progress = null)
        {
            var parts = PerMaster(changes);
            // Each master checks the cluster before it writes: a commit's records, written last, are not
            // written on a cluster that changed (a failover may have lost acknowledged batches).
            OnEveryMaster(parts.Count, progress, (i, reported) =>
            {
                RequireUnchanged(parts[i].Master, "write");
                parts[i].Master.Write(parts[i].Changes, reported);
                AwaitReplicas(parts[i].Master);
            });
        }

        public void WriteIf(IReadOnlyCollection<NbEntry> changes, Func<NbKey, ReadOnlyMemory<byte>?> expected, IProgress<int>? progress = null)
        {
            var parts = PerMaster(changes);
            // The masters' threads look the expected values up here, not in the caller's function.
            var olds = new Dictionary<NbKey, ReadOnlyMemory<byte>?>(changes.Count);
            foreach (var c in changes) olds[c.Key] = expected(c.Key);
            Func<NbKey, ReadOnlyMemory<byte>?> old = k => olds[k];
            // The whole write is checked on every slot before any master writes, so that one finding
            // another value writes nothing. A write landing between the check and a slot's script is
            // still caught by that script, which then writes nothing of its slot: the others are written.
            var changed = new List<NbKey>[parts.Count];
            OnEveryMaster(parts.Count, null, (i, _) =>
            {
                RequireUnchanged(parts[i].Master, "write");
                changed[i] = parts[i].Master.Changed(parts[i].Changes, old);
            });
            var found = changed.SelectMany(c => c).ToList();
            if (found.Count > 0) throw new NbConflictException(Location, found, 0);
            var conflicts = new NbConflictException[parts.Count];
            int written = 0;
            OnEveryMaster(parts.Count, progress, (i, reported) =>
            {
                try
                {
                    parts[i].Master.WriteIf(parts[i].Changes, old, reported);
                    Interlocked.Add(ref written, parts[i].Changes.Count);
                }
                catch (NbConflictException e)
                {
                    conflicts[i] = e;
                    Interlocked.Add(ref written, e.Written);
                }
                AwaitReplicas(parts[i].Master);
            });
            found = conflicts.Where(e => e != null).SelectMany(e => e.Keys).ToList();
            if (found.Count > 0) throw new NbConflictException(Location, found, written);
        }

        /// <summary>
        /// Waits until every replica <paramref name="master"/> had at open has what it was sent (WAIT):
        /// a batch only the master has is lost if a replica takes over. A replica that does not
        /// acknowledge in time fails the write with <see cref="NbClusterChangedException"/>; a master
        /// without replicas has nothing to wait for (and nothing a failover could lose, as it has none).
        /// </summary>
        void AwaitReplicas(RedisNbStore master)
        {
            int replicas = _replicas[_masters.IndexOf(master)];
            if (replicas == 0) return;
            long acknowledged = master.WaitForReplicas(replicas, _replicaTimeout);
            if (acknowledged < replicas) throw NbClusterChangedException.NotReplicated(Location, master.Master!, acknowledged, replicas, _replicaTimeout);
        }

        // Each master's changes in slot order; changes of one key keep their order (the sort is stable).
        List<(RedisNbStore Master, List<NbEntry> Changes)> PerMaster(IReadOnlyCollection<NbEntry> changes) =>
            changes.GroupBy(c => _owner[SlotOf(c.Key)]).OrderBy(g => g.Key)
                .Select(g => (_masters[g.Key], g.OrderBy(c => SlotOf(c.Key)).ToList())).ToList();

        /// <summary>
        /// Runs <paramref name="work"/> for parts 0 to <paramref name="count"/> - 1, each a master's, all at
        /// once, a thread each (a master's connection is for one thread), and waits for all of them:
        /// none is still writing when this returns or throws. Then throws the failure of the first
        /// part that failed, or, when several masters timed out, one error naming them all. <paramref name="progress"/> is told the sum of what the parts report,
        /// on this thread (a cmdlet's progress is written on its pipeline's thread only).
        /// </summary>
        static void OnEveryMaster(int count, IProgress<int>? progress, Action<int, IProgress<int>?> work)
        {
            var done = new int[count];
            var failures = new Exception[count];
            void Run(int i)
            {
                try { work(i, progress == null ? null : new ReportTo<int>(n => Volatile.Write(ref done[i], n))); }
                catch (Exception e) { failures[i] = e; }
            }
            // Threads of their own: each blocks on its socket, and a small machine's thread pool would hold one back.
            int first = progress == null ? 1 : 0;   // without progress to report, this thread writes part 0
            var threads = Enumerable.Range(first, Math.Max(0, count - first))
                .Select(i => Task.Factory.StartNew(() => Run(i), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default)).ToArray();
            if (first == 1 && count > 0) Run(0);
            try
            {
                for (int reported = 0; ;)
                {
                    bool finished = Task.WaitAll(threads, progress == null ? Timeout.Infinite : 100);
                    int sum = 0;
                    for (int i = 0; i < count; i++) sum += Volatile.Read(ref done[i]);
                    if (sum != reported) progress?.Report(reported = sum);   // sums above 0 come from progress's parts only
                    if (finished) break;
                }
            }
            finally
            {
                // A progress report that throws still leaves no master writing.
                Task.WaitAll(threads);
            }
            var failed = failures.Where(f => f != null).ToList();
            // Masters that all timed out are named together: the operator checks each of them.
            if (failed.Count > 1 && failed.All(f => f is NbClusterTimeoutException))
                throw NbClusterTimeoutException.Of(failed.Cast<NbClusterTimeoutException>().ToList());
            if (failed.Count > 0) ExceptionDispatchInfo.Capture(failed[0]).Throw();
        }

        sealed class ClusterParts : NbStoreParts
        {
            readonly RedisClusterNbStore _store;
            public ClusterParts(RedisClusterNbStore store) { _store = store; }
            // StackExchange.Redis sends the lock's commands to the master of its key's slot.
            public override ILockSlot LockSlot(NbKey key) => new RedisLockSlot(() => _store._multiplexer.GetDatabase(), key, _store.Location);
            public override NbKeyLayout? KeyLayout => _store._masters[0].Parts.KeyLayout;
            public override NbKeyLayout? KeyLayoutAt(string release) => RedisKeys.At(release);
            public override IReadOnlyDictionary<NbKeyLayout, string> FindKeyLayouts()
            {
                var found = new Dictionary<NbKeyLayout, string>();
                foreach (var master in _store._masters)
                    foreach (var layout in master.Parts.FindKeyLayouts())
                        if (!found.ContainsKey(layout.Key)) found.Add(layout.Key, layout.Value);
                return found;
            }
            public override void UseKeyLayout(NbKeyLayout layout)
            {
                foreach (var master in _store._masters) master.Parts.UseKeyLayout(layout);
            }
            public override string BackupName => _store.Location;
        }

        public void Dispose()
        {
            foreach (var master in _masters) master.Dispose();
            _multiplexer.Dispose();
        }
    }
}
