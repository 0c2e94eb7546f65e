using System;
using System.Collections.Generic;
using System.Linq;
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
        public Heartbeat(string table, string? id, string? chassis, string? binary, double? lastSeen, string? problem = null)
        {
            Problem = problem;
            Table = table;
            Id = id;
            Chassis = chassis;
            Binary = binary;
            LastSeen = lastSeen;
        }

        public string Table { get; }
        public string? Id { get; }
        /// <summary>The host: the service's chassis, the listener's id; null for a publisher.</summary>
        public string? Chassis { get; }
        /// <summary>The service's binary ("df-local-controller"); "neutron-server" for a listener; null for a publisher.</summary>
        public string? Binary { get; }
        /// <summary>The last heartbeat, epoch seconds; null if the row has none.</summary>
        public double? LastSeen { get; }
        /// <summary>Why the row's time cannot be read (to follow "its row"), or null.</summary>
        public string? Problem { get; }

        /// <summary>Whether the component beats; one whose row's time cannot be read may, so it counts as alive.</summary>
        public bool IsAlive(double now, TimeSpan downTime) => Problem != null || (LastSeen.HasValue && now - LastSeen.Value <= downTime.TotalSeconds);

        public string Describe(double now)
        {
            string who = Table == "publisher" ? $"publisher {Id}" : $"{Binary ?? Table + " " + Id} on {Chassis ?? "an unknown chassis"}";
            if (Problem != null) return $"{who} (its {Table} row {Problem})";
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
        public static IReadOnlyList<Heartbeat> ReadServices(INbStore store) => Read(StoredValue.Checked(store, "service"), "service", ControlPlaneCheck.TimeFieldOf("service")).ToList();

        /// <summary>Every heartbeat row: services, Neutron listeners, publishers.</summary>
        public static IReadOnlyList<Heartbeat> ReadAll(INbStore store)
        {
            var rows = ControlPlaneCheck.HeartbeatRows(store);
            return ControlPlaneCheck.HeartbeatTables.SelectMany(h => Read(rows[h.Table], h.Table, h.TimeField)).ToList();
        }

        // Read by the control-plane check's rule, so a row it refuses counts as alive here too; a
        // value that is not JSON is refused as in any other table (NbValueInvalidException).
        static IEnumerable<Heartbeat> Read(IEnumerable<NbEntry> entries, string table, string timeField)
        {
            foreach (var entry in entries)
            {
                var row = ControlPlaneCheck.ReadRow(entry, timeField);
                string? Field(string name) => ControlPlaneCheck.Field(row.Object, name);
                string? chassis = table == "service" ? Field("chassis") : table == "listener" ? entry.Key.Id : null;
                string? binary = table == "service" ? Field("binary") : table == "listener" ? "neutron-server" : null;
                yield return new Heartbeat(table, entry.Key.Id, chassis, binary, row.Seconds, row.Problem);
            }
        }
    }
}
