using System;
using System.Globalization;
using System.Text;

namespace DragonflowUpgrade.Engine.Store
{
    public sealed partial class RedisNbStore
    {
        /// <summary>A cluster's master: its name and slots, for errors.</summary>
        internal string? Master => _master;

        /// <summary>
        /// A cluster's master: <c>WAIT</c>s until <paramref name="replicas"/> of its replicas have
        /// what it was sent, for at most <paramref name="timeout"/>; returns how many have.
        /// </summary>
        internal long WaitForReplicas(int replicas, TimeSpan timeout)
        {
            NotWhileReading(touchesKeys: false);
            return Guard("write", () =>
            {
                _connection.Command("WAIT", replicas.ToString(CultureInfo.InvariantCulture), ((long)timeout.TotalMilliseconds).ToString(CultureInfo.InvariantCulture));
                _connection.Flush();
                return _connection.ReadReply() is long acknowledged ? acknowledged
                    : throw new NbStoreException($"{_master} of the Redis Cluster at {Location} answered WAIT with something other than a count.");
            });
        }

        /// <summary>A cluster's master: its <c>CLUSTER NODES</c> now, asked on its own connection (<paramref name="what"/> names the operation for errors).</summary>
        internal string ClusterNodes(string what)
        {
            NotWhileReading(touchesKeys: false);
            return Guard(what, () =>
            {
                _connection.Command("CLUSTER", "NODES");
                _connection.Flush();
                return _connection.ReadReply() is byte[] text ? Encoding.UTF8.GetString(text)
                    : throw new NbStoreException($"{_master} of the Redis Cluster at {Location} answered CLUSTER NODES with something other than its nodes.");
            });
        }
    }
}
