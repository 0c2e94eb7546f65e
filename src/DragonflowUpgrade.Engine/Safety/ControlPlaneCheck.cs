using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Numerics;
using System.Text;
using DragonflowUpgrade.Engine.Errors;
using DragonflowUpgrade.Engine.Json;
using DragonflowUpgrade.Engine.Store;

namespace DragonflowUpgrade.Engine.Safety
{
    /// <summary>A Dragonflow service, Neutron server or publisher that reported in recently.</summary>
    public sealed class LiveComponent
    {
        internal LiveComponent(string table, string id, string description, DateTimeOffset lastSeen, TimeSpan age)
        {
            Table = table;
            Id = id;
            Description = description;
            LastSeen = lastSeen;
            Age = age;
        }

        /// <summary>service, listener or publisher.</summary>
        public string Table { get; }
        public string Id { get; }
        public string Description { get; }
        public DateTimeOffset LastSeen { get; }
        public TimeSpan Age { get; }

        public override string ToString() => $"{Description}, last seen {Math.Max(0, (int)Age.TotalSeconds)} s ago";
    }

    /// <summary>
    /// Tells whether the control plane still runs, from what it writes to the NB database, as
    /// Dragonflow itself judges it: a <c>service</c> row is alive while <c>last_seen_up</c>
    /// (epoch seconds) is at most <c>service_down_time</c> old (80 s by default; services
    /// report every 25 s); a <c>listener</c> row (a Neutron server, reporting every 25 to
    /// 35 s) by its <c>timestamp</c> against the same limit; a <c>publisher</c> row by its
    /// <c>last_activity_timestamp</c>, also against that limit: the rule Stop-DfControlPlane
    /// waits on, so a control plane it stopped does not hold up a migration any longer.
    /// (Dragonflow's publisher_timeout, 300 s, is how long an idle publisher stays listed, not
    /// a sign that it still runs.)
    /// <para>
    /// A row without a time (absent or null) never reported in, and does not run. A row whose
    /// time is not epoch seconds (not a number, not finite, beyond the
    /// years 1 to 9999), or that is not a JSON object, tells nothing: it counts as alive, since the
    /// module cannot tell that its component stopped, and is refused as
    /// <see cref="HeartbeatInvalidException"/> naming the table, the object and the field, unless forced.
    /// </para>
    /// </summary>
    public static class ControlPlaneCheck
    {
        public static readonly TimeSpan DefaultServiceDownTime = TimeSpan.FromSeconds(80);

        /// <summary>
        /// The tables the control plane's heartbeats go to, and the field of each that holds the
        /// time of the last one (epoch seconds): not configuration, but a running cloud's pulse.
        /// </summary>
        public static readonly IReadOnlyList<(string Table, string TimeField)> HeartbeatTables = new[]
        {
            ("service", "last_seen_up"),
            ("listener", "timestamp"),
            ("publisher", "last_activity_timestamp"),
        };

        public static string TimeFieldOf(string table) => HeartbeatTables.First(h => h.Table == table).TimeField;

        public static bool IsHeartbeatTable(string table) => HeartbeatTables.Any(h => h.Table == table);

        /// <summary>
        /// The stored rows of the heartbeat tables by table, read together (<see cref="INbStore.ReadTables"/>), then
        /// each value checked as <see cref="StoredValue.Checked(INbStore, string)"/> checks it, table by table in their order.
        /// </summary>
        public static ILookup<string, NbEntry> HeartbeatRows(INbStore store)
        {
            var read = store.ReadTables(HeartbeatTables.Select(h => h.Table).ToList()).ToLookup(e => e.Key.Table);
            return HeartbeatTables.SelectMany(h => StoredValue.Checked(store, read[h.Table])).ToLookup(e => e.Key.Table);
        }

        /// <summary>What is alive; a heartbeat row whose time cannot be read is refused (<see cref="HeartbeatInvalidException"/>).</summary>
        public static IReadOnlyList<LiveComponent> FindLive(INbStore store, TimeSpan serviceDownTime)
        {
            var invalid = new List<HeartbeatInvalidException>();
            var rows = HeartbeatRows(store);
            var live = Find(store.Location, table => rows[table], serviceDownTime, invalid);
            if (invalid.Count > 0) throw invalid[0].With(invalid.Count - 1, canIgnore: true);
            return live;
        }

        // rows: the stored rows of a heartbeat table, each value checked as StoredValue.Checked checks it.
        static List<LiveComponent> Find(string location, Func<string, IEnumerable<NbEntry>> rows, TimeSpan serviceDownTime, List<HeartbeatInvalidException> invalid)
        {
            var now = DateTimeOffset.UtcNow;
            var live = new List<LiveComponent>();
            Scan(location, rows, "service", TimeFieldOf("service"), serviceDownTime, now, live, invalid,
                (id, o) => $"service {Field(o, "binary") ?? id} on {Field(o, "chassis") ?? "an unknown chassis"}");
            Scan(location, rows, "listener", TimeFieldOf("listener"), serviceDownTime, now, live, invalid,
                (id, o) => $"Neutron server {id}" + (Field(o, "ppid") is string ppid ? $" (process {ppid})" : ""));
            Scan(location, rows, "publisher", TimeFieldOf("publisher"), serviceDownTime, now, live, invalid,
                (id, o) => $"publisher {id}" + (Field(o, "uri") is string uri ? $" ({uri})" : ""));
            return live;
        }

        // Epoch seconds from 1970 (a negative one is no heartbeat Dragonflow wrote) to what DateTimeOffset can hold (year 9999).
        const double MinSeconds = 0, MaxSeconds = 253402300799;

        static void Scan(string location, Func<string, IEnumerable<NbEntry>> rows, string table, string field, TimeSpan limit, DateTimeOffset now,
            List<LiveComponent> live, List<HeartbeatInvalidException> invalid, Func<string, NbObject?, string> describe)
        {
            foreach (var e in rows(table))
            {
                var row = ReadRow(e, field);
                if (row.Problem != null)
                {
                    invalid.Add(new HeartbeatInvalidException(location, e.Key, field, row.Problem));
                    continue;
                }
                if (row.Seconds == null) continue;   // never reported in
                var seen = DateTimeOffset.FromUnixTimeMilliseconds((long)Math.Round(row.Seconds.Value * 1000));
                var age = now - seen;
                if (age <= limit) live.Add(new LiveComponent(table, e.Key.Id, describe(e.Key.Id, row.Object), seen, age));
            }
        }

        /// <summary>
        /// A heartbeat row read by the rule of this check: its object (when it is one), and its
        /// time in epoch seconds or, when that cannot be read, what is wrong with the row.
        /// </summary>
        public static HeartbeatRow ReadRow(NbEntry e, string field)
        {
            // The one NB JSON reader, as for every other value the module reads.
            NbObject? o;
            try { o = NbJson.Parse(e.Value.Span) as NbObject; }
            catch (FormatException) { o = null; }
            if (o == null) return new HeartbeatRow(null, null, "is not a JSON object");
            // No time at all: the component never reported in (the field is optional in
            // Dragonflow's models, e.g. a service registered but never started): not running.
            if (!o.TryGetValue(field, out object? ts) || ts == null) return new HeartbeatRow(o, null, null);
            // A JSON number only: the manifests type these fields "timestamp", a number, as the schema validator takes it.
            double seconds = ts is long l ? l : ts is double d ? d : ts is BigInteger big ? (double)big : double.NaN;
            // NaN fails both comparisons; so do infinities and times beyond what a date can hold.
            if (!(seconds >= MinSeconds && seconds <= MaxSeconds))
            {
                string raw = Encoding.UTF8.GetString(NbJson.Serialize(ts));
                if (raw.Length > 40) raw = raw.Substring(0, 40) + "...";
                return new HeartbeatRow(o, null, $"has {field} {raw}, which is not a time in epoch seconds");
            }
            return new HeartbeatRow(o, seconds, null);
        }

        /// <summary>A string or number field of a heartbeat row's object, as text; null otherwise.</summary>
        public static string? Field(NbObject? o, string name)
        {
            if (o == null || !o.TryGetValue(name, out object? v)) return null;
            switch (v)
            {
                case string s: return s;
                case long _:
                case double _:
                case BigInteger _: return Encoding.UTF8.GetString(NbJson.Serialize(v));
                default: return null;
            }
        }

        /// <summary>Refuses with <see cref="ControlPlaneAliveException"/> when anything is alive; returns what is.
        /// <paramref name="unreadable"/> is what a run not forced refuses for heartbeats it cannot read, null if none.</summary>
        /// <param name="store">The NB database whose heartbeat tables are read.</param>
        /// <param name="serviceDownTime">How old a heartbeat must be for its service to count as stopped.</param>
        /// <param name="force">Refuse nothing: return what is alive, and give what cannot be read in <paramref name="unreadable"/>.</param>
        /// <param name="unreadable">The heartbeats that could not be read (one error naming how many); null if none.</param>
        /// <param name="command">The command refused, named in the refusal with the switch that overrides it; null names none.</param>
        /// <param name="canIgnore">Whether the caller has -IgnoreLiveControlPlane: a refusal names it only then, else it advises stopping the control plane and running again.</param>
        public static IReadOnlyList<LiveComponent> Require(INbStore store, TimeSpan serviceDownTime, bool force, out HeartbeatInvalidException? unreadable,
            string? command = null, bool canIgnore = true)
        {
            var rows = HeartbeatRows(store);
            return Require(store.Location, table => rows[table], serviceDownTime, force, out unreadable, command, canIgnore);
        }

        /// <summary>
        /// <see cref="Require(INbStore, TimeSpan, bool, out HeartbeatInvalidException, string)"/> on heartbeat rows read already
        /// (a run's snapshot): <paramref name="rows"/> gives a table's stored rows, their values checked as <see cref="StoredValue.Checked(INbStore, string)"/> checks them.
        /// </summary>
        public static IReadOnlyList<LiveComponent> Require(string location, Func<string, IEnumerable<NbEntry>> rows, TimeSpan serviceDownTime, bool force,
            out HeartbeatInvalidException? unreadable, string? command = null, bool canIgnore = true)
        {
            var invalid = new List<HeartbeatInvalidException>();
            var live = Find(location, rows, serviceDownTime, invalid);
            unreadable = invalid.Count > 0 ? invalid[0].With(invalid.Count - 1, canIgnore) : null;
            if (force) return live;
            if (live.Count > 0) throw new ControlPlaneAliveException(location, live, command, canIgnore);
            if (unreadable != null) throw unreadable;
            return live;
        }
    }

    /// <summary>A heartbeat row as <see cref="ControlPlaneCheck.ReadRow"/> reads it.</summary>
    public readonly struct HeartbeatRow
    {
        public HeartbeatRow(NbObject? obj, double? seconds, string? problem)
        {
            Object = obj;
            Seconds = seconds;
            Problem = problem;
        }

        /// <summary>The row's object; null when it is not one.</summary>
        public NbObject? Object { get; }
        /// <summary>The last heartbeat, epoch seconds; null when the row has none (never reported in) or <see cref="Problem"/> says why not.</summary>
        public double? Seconds { get; }
        /// <summary>What makes the row's time unreadable (to follow "the row"), or null.</summary>
        public string? Problem { get; }
    }

    /// <summary>
    /// A heartbeat row (<c>service</c>, <c>listener</c>, <c>publisher</c>) whose time cannot be
    /// read, so that the module cannot tell whether its component still runs (error id <c>HeartbeatInvalid</c>).
    /// </summary>
    public sealed class HeartbeatInvalidException : DfException
    {
        internal HeartbeatInvalidException(string location, NbKey key, string field, string what, int others = 0, bool canIgnore = true)
            : base("HeartbeatInvalid", DfErrorCategory.InvalidData,
                   $"The {key.Table} row '{key.Id}' in the NB database at {location} {what}, so the module cannot tell whether that component " +
                   $"has stopped; it counts as running{(others > 0 ? $" (so do {others} more heartbeat row(s) like it)" : "")}. Nothing was written.",
                   key.Table + "/" + key.Id,
                   $"Check that the component is stopped, then delete the row or set its {field} to the epoch seconds of its last heartbeat " +
                   "(Dragonflow writes it again when the component starts)" + (canIgnore ? "; or run again with -IgnoreLiveControlPlane." : ", then run again."))
        {
            Location = location;
            Key = key;
            Field = field;
            What = what;
        }

        string Location { get; }
        string What { get; }
        public NbKey Key { get; }
        public string Field { get; }

        /// <summary>This refusal counting <paramref name="others"/> rows more, its advice for a caller with or without -IgnoreLiveControlPlane.</summary>
        internal HeartbeatInvalidException With(int others, bool canIgnore) =>
            others == 0 && canIgnore ? this : new HeartbeatInvalidException(Location, Key, Field, What, others, canIgnore);
    }
}
