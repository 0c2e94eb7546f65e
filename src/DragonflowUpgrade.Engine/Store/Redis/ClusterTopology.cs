using System;
using System.Collections.Generic;
using System.Linq;

namespace DragonflowUpgrade.Engine.Store
{
    /// <summary>
    /// The masters of a Redis Cluster as one node's <c>CLUSTER NODES</c> tells them: each master that
    /// serves slots, with its address, config epoch and slots, and the slots that node is moving
    /// (<c>CLUSTER SETSLOT … MIGRATING/IMPORTING</c>, shown by the node itself only). Two of them are
    /// compared to find a cluster that changed under an operation: a failover raises an epoch, a
    /// slot that moved changes two masters' slots.
    /// </summary>
    sealed class ClusterTopology
    {
        // node id → "address (slots …, config epoch n)"
        readonly SortedDictionary<string, string> _masters = new SortedDictionary<string, string>(StringComparer.Ordinal);
        readonly List<string> _moving = new List<string>();

        /// <summary>Reads the text of <c>CLUSTER NODES</c>: a line per node, <c>id address flags master ping pong epoch link slot…</c>.</summary>
        public static ClusterTopology Parse(string nodes)
        {
            var topology = new ClusterTopology();
            foreach (var line in nodes.Split('\n'))
            {
                var f = line.Trim().Split(' ');
                if (f.Length < 8 || !f[2].Split(',').Contains("master")) continue;
                string address = f[1].Split('@')[0];
                var slots = f.Skip(8).Where(s => !s.StartsWith("[", StringComparison.Ordinal)).ToList();
                foreach (var moving in f.Skip(8).Where(s => s.StartsWith("[", StringComparison.Ordinal)))
                    topology._moving.Add($"{address} is moving slot {moving.Trim('[', ']').Replace("->-", " to node ").Replace("-<-", " from node ")}");
                if (slots.Count > 0) topology._masters[f[0]] = $"{address} (slots {string.Join(",", slots)}, config epoch {f[6]})";
            }
            return topology;
        }

        /// <summary>How <paramref name="now"/> differs from this, for a message; null when it does not.</summary>
        public string? ChangeTo(ClusterTopology now)
        {
            var changes = new List<string>(now._moving);
            foreach (var id in _masters.Keys.Union(now._masters.Keys))
            {
                _masters.TryGetValue(id, out string? before);
                now._masters.TryGetValue(id, out string? after);
                if (before == after) continue;
                changes.Add(before == null ? $"master {after} is new"
                    : after == null ? $"master {before} serves no slot now"
                    : $"master {before} is now {after.Substring(after.IndexOf(' ') + 1)}");
            }
            return changes.Count == 0 ? null : string.Join("; ", changes);
        }
    }
}
