using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using DragonflowUpgrade.Engine.Errors;

namespace DragonflowUpgrade.Engine.Store
{
    /// <summary>
    /// Masters of a Redis Cluster did not answer in time (stopped, hung or overloaded): the message
    /// names each and its slots. Their connections were closed; what they had been sent may or may
    /// not have been applied, as with any write stopped part way, which a commit's journal covers.
    /// </summary>
    public sealed class NbClusterTimeoutException : NbStoreException
    {
        internal NbClusterTimeoutException(string location, string master, NbEndpoint endpoint, string what, string said, Exception inner)
            : this(location, what, new[] { new Stall(master, endpoint, said.TrimEnd('.')) }, inner)
        { }

        NbClusterTimeoutException(string location, string what, IReadOnlyList<Stall> stalls, Exception inner)
            : base("NbClusterMasterTimeout", DfErrorCategory.ResourceUnavailable,
                   stalls.Count == 1
                       ? $"The {what} of the Redis Cluster at {location} stopped at {stalls[0].Master}: {stalls[0].Said}; its connection was closed."
                       : $"The {what} of the Redis Cluster at {location} stopped at {stalls.Count} masters: {string.Join("; ", stalls.Select(s => $"{s.Master}: {s.Said}"))}; their connections were closed.",
                   location,
                   $"Check {(stalls.Count == 1 ? "that master" : "those masters")}: {string.Join(" and ", stalls.Select(s => $"redis-cli -h {s.Endpoint.Host} -p {s.Endpoint.Port.ToString(CultureInfo.InvariantCulture)} PING"))} " +
                   "(with --tls and its files over TLS) must answer PONG at once (a stopped process, " +
                   "a full disk or a long-running command holds it). A master that stays silent is failed over to its replica after the cluster's cluster-node-timeout. " +
                   $"Once CLUSTER INFO says cluster_state:ok on every node, run again; an interrupted commit is finished by Resume-DfMigration -Database {location}, or by Invoke-DfUpgrade -Resume when a whole upgrade ran it.", inner)
        {
            Location = location;
            What = what;
            Stalls = stalls;
        }

        /// <summary>The masters that did not answer, as the message names them (address and slots).</summary>
        public IReadOnlyList<string> Masters => Stalls.Select(s => s.Master).ToList();

        string Location { get; }
        string What { get; }
        IReadOnlyList<Stall> Stalls { get; }

        /// <summary>One error naming every master of <paramref name="timeouts"/> (of one operation, each on its own master).</summary>
        internal static NbClusterTimeoutException Of(IReadOnlyList<NbClusterTimeoutException> timeouts) =>
            timeouts.Count == 1 ? timeouts[0]
                : new NbClusterTimeoutException(timeouts[0].Location, timeouts[0].What, timeouts.SelectMany(t => t.Stalls).ToList(), timeouts[0]);

        sealed class Stall
        {
            public Stall(string master, NbEndpoint endpoint, string said) { Master = master; Endpoint = endpoint; Said = said; }
            public string Master { get; }
            public NbEndpoint Endpoint { get; }
            public string Said { get; }
        }
    }
}
