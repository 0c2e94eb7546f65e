using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text.Json;
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

        public static IReadOnlyList<LiveComponent> FindLive(INbStore store, TimeSpan serviceDownTime)
        {
            var now = DateTimeOffset.UtcNow;
            var live = new List<LiveComponent>();
            Scan(store, "service", TimeFieldOf("service"), serviceDownTime, now, live,
                (id, o) => $"service {Field(o, "binary") ?? id} on {Field(o, "chassis") ?? "an unknown chassis"}");
            Scan(store, "listener", TimeFieldOf("listener"), serviceDownTime, now, live,
                (id, o) => $"Neutron server {id}" + (Field(o, "ppid") is string ppid ? $" (process {ppid})" : ""));
            Scan(store, "publisher", TimeFieldOf("publisher"), serviceDownTime, now, live,
                (id, o) => $"publisher {id}" + (Field(o, "uri") is string uri ? $" ({uri})" : ""));
            return live;
        }

        static void Scan(INbStore store, string table, string field, TimeSpan limit, DateTimeOffset now, List<LiveComponent> live,
            Func<string, JsonElement, string> describe)
        {
            foreach (var e in store.Read(table))
            {
                JsonDocument doc;
                try { doc = JsonDocument.Parse(e.Value); }
                catch (JsonException) { continue; }
                using (doc)
                {
                    var o = doc.RootElement;
                    if (o.ValueKind != JsonValueKind.Object || !o.TryGetProperty(field, out var ts)) continue;
                    double seconds;
                    if (ts.ValueKind == JsonValueKind.Number) seconds = ts.GetDouble();
                    else if (ts.ValueKind != JsonValueKind.String || !double.TryParse(ts.GetString(), NumberStyles.Float, CultureInfo.InvariantCulture, out seconds)) continue;
                    var seen = DateTimeOffset.FromUnixTimeMilliseconds((long)(seconds * 1000));
                    var age = now - seen;
                    if (age <= limit) live.Add(new LiveComponent(table, e.Key.Id, describe(e.Key.Id, o), seen, age));
                }
            }
        }

        static string Field(JsonElement o, string name)
        {
            if (!o.TryGetProperty(name, out var v)) return null;
            switch (v.ValueKind)
            {
                case JsonValueKind.String: return v.GetString();
                case JsonValueKind.Number: return v.GetRawText();
                default: return null;
            }
        }

        /// <summary>Refuses with <see cref="ControlPlaneAliveException"/> when anything is alive; returns what is.</summary>
        public static IReadOnlyList<LiveComponent> Require(INbStore store, TimeSpan serviceDownTime, bool force)
        {
            var live = FindLive(store, serviceDownTime);
            if (live.Count > 0 && !force) throw new ControlPlaneAliveException(store.Location, live);
            return live;
        }
    }
}
