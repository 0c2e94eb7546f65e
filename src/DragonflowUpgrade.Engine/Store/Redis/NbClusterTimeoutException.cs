using System;
using System.Globalization;
using DragonflowUpgrade.Engine.Errors;

namespace DragonflowUpgrade.Engine.Store
{
    /// <summary>
    /// A master of a Redis Cluster did not answer in time (stopped, hung or overloaded): the message
    /// names it and its slots. Its connection was closed; what it had been sent may or may not have
    /// been applied, as with any write stopped part way, which a commit's journal covers.
    /// </summary>
    public sealed class NbClusterTimeoutException : NbStoreException
    {
        internal NbClusterTimeoutException(string location, string master, NbEndpoint endpoint, string what, string said, Exception inner)
            : base("NbClusterMasterTimeout", DfErrorCategory.ResourceUnavailable,
                   $"The {what} of the Redis Cluster at {location} stopped at {master}: {said.TrimEnd('.')}; its connection was closed.",
                   location,
                   $"Check that master: redis-cli -h {endpoint.Host} -p {endpoint.Port.ToString(CultureInfo.InvariantCulture)} PING (with --tls and its files over TLS) must answer PONG at once (a stopped process, " +
                   "a full disk or a long-running command holds it). A master that stays silent is failed over to its replica after the cluster's cluster-node-timeout. " +
                   $"Once CLUSTER INFO says cluster_state:ok on every node, run again; an interrupted commit is finished by Resume-DfMigration -Database {location}.", inner)
        { }
    }
}
