using System;
using System.Collections.Generic;
using System.Linq;
using DragonflowUpgrade.Engine.Json;
using DragonflowUpgrade.Engine.Safety;
using DragonflowUpgrade.Engine.Store;

namespace DragonflowUpgrade.Remote
{
    /// <summary>
    /// One heartbeat row of the NB database: a Dragonflow service (table <c>service</c>,
    /// <c>chassis</c>, <c>binary</c>, <c>last_seen_up</c>), a Neutron server (table
    /// <c>listener</c>, id = its host, <c>timestamp</c>) or a publisher (table <c>publisher</c>,
    /// <c>last_activity_timestamp</c>). Times are epoch seconds, as Dragonflow writes them.
    /// </summary>
    public sealed class Heartbeat
    {
        public Heartbeat(string table, string id, string chassis, string binary, double? lastSeen)
        {
            Table = table;
            Id = id;
            Chassis = chassis;
            Binary = binary;
            LastSeen = lastSeen;
        }

        public string Table { get; }
        public string Id { get; }
        /// <summary>The host: the service's chassis, the listener's id; null for a publisher.</summary>
        public string Chassis { get; }
        /// <summary>The service's binary ("df-local-controller"); "neutron-server" for a listener; null for a publisher.</summary>
        public string Binary { get; }
        /// <summary>The last heartbeat, epoch seconds; null if the row has none.</summary>
        public double? LastSeen { get; }

        public bool IsAlive(double now, TimeSpan downTime) => LastSeen.HasValue && now - LastSeen.Value <= downTime.TotalSeconds;

        public string Describe(double now)
        {
            string who = Table == "publisher" ? $"publisher {Id}" : $"{Binary} on {Chassis}";
            return LastSeen.HasValue ? $"{who} (last seen {Math.Max(0, now - LastSeen.Value):0} s ago)" : who;
        }

        public override string ToString() => Describe(Heartbeats.Now());
    }

    /// <summary>Reads the NB heartbeat tables: <c>service</c>, <c>listener</c>, <c>publisher</c>.</summary>
    public static class Heartbeats
    {
        /// <summary>Dragonflow's service_down_time default: a service whose last heartbeat is older is down.</summary>
        public static readonly TimeSpan DefaultDownTime = ControlPlaneCheck.DefaultServiceDownTime;

        public static double Now() => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0;

        /// <summary>The rows of the service table only (what a start waits on).</summary>
        public static IReadOnlyList<Heartbeat> ReadServices(INbStore store) => Read(store, "service", ControlPlaneCheck.TimeFieldOf("service")).ToList();

        /// <summary>Every heartbeat row: services, Neutron listeners, publishers.</summary>
        public static IReadOnlyList<Heartbeat> ReadAll(INbStore store) =>
            ControlPlaneCheck.HeartbeatTables.SelectMany(h => Read(store, h.Table, h.TimeField)).ToList();

        static IEnumerable<Heartbeat> Read(INbStore store, string table, string timeField)
        {
            foreach (var entry in store.Read(table))
            {
                NbObject o;
                try { o = NbJson.Parse(entry.Value.Span) as NbObject; }
                catch (FormatException) { o = null; }
                if (o == null) { yield return new Heartbeat(table, entry.Key.Id, null, null, null); continue; }
                string chassis = table == "service" ? o["chassis"] as string : table == "listener" ? entry.Key.Id : null;
                string binary = table == "service" ? o["binary"] as string : table == "listener" ? "neutron-server" : null;
                yield return new Heartbeat(table, entry.Key.Id, chassis, binary, Number(o[timeField]));
            }
        }

        static double? Number(object value)
        {
            switch (value)
            {
                case long l: return l;
                case double d: return d;
                case System.Numerics.BigInteger big: return (double)big;
                case string s when double.TryParse(s, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double parsed): return parsed;
                default: return null;
            }
        }
    }
}
