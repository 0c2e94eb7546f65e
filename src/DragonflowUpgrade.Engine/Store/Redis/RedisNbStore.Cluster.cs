using System.Text;

namespace DragonflowUpgrade.Engine.Store
{
    public sealed partial class RedisNbStore
    {
        /// <summary>A cluster's master: its <c>CLUSTER NODES</c> now, asked on its own connection (<paramref name="what"/> names the operation for errors).</summary>
        internal string ClusterNodes(string what)
        {
            NotWhileReading();
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
