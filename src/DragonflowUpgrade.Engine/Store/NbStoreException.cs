using System;
using DragonflowUpgrade.Engine.Errors;

namespace DragonflowUpgrade.Engine.Store
{
    /// <summary>The NB database could not be opened, read or written; the message says which and where.</summary>
    public class NbStoreException : DfException
    {
        public NbStoreException(string message, Exception? inner = null)
            : base("NbDatabaseUnavailable", DfErrorCategory.ResourceUnavailable, message, null, null, inner) { }

        protected NbStoreException(string errorId, DfErrorCategory category, string message, string? target, string? recommendedAction, Exception? inner = null)
            : base(errorId, category, message, target, recommendedAction, inner) { }
    }

    /// <summary>
    /// An embedded database or backup file is damaged or is not one: the message names the file
    /// (and the line). Nothing was written.
    /// </summary>
    public sealed class NbFileInvalidException : NbStoreException
    {
        public NbFileInvalidException(string path, int line, string problem, string? recommendedAction = null, Exception? inner = null)
            : base("NbFileInvalid", DfErrorCategory.InvalidData,
                   $"{path}{(line > 0 ? $", line {line}" : "")}: {problem} Nothing was written.",
                   line > 0 ? $"{path}:{line}" : path,
                   recommendedAction ?? "Fix or remove what the message names (or restore the file from a backup), then run again.", inner)
        {
            Path = path;
            Line = line;
        }

        public string Path { get; }
        /// <summary>The line concerned, from 1; 0 for the file as a whole.</summary>
        public int Line { get; }
    }

    /// <summary>A stored value is not one an NB object can have (see <see cref="StoredValue"/>); the message names its key.</summary>
    public sealed class NbValueInvalidException : NbStoreException
    {
        public NbValueInvalidException(string database, NbKey key, string problem)
            : base("NbValueInvalid", DfErrorCategory.InvalidData,
                   $"{database}: the value of {key} {problem} It cannot be backed up and restored as it is, so nothing was written.",
                   $"{database} {key}",
                   $"Fix or delete the key of {key} in the database, then run again.")
        {
            Key = key;
        }

        public NbKey Key { get; }
    }
}

namespace DragonflowUpgrade.Engine.Store
{
    /// <summary>
    /// A Redis Cluster changed under an operation: a master answered MOVED, ASK, TRYAGAIN or
    /// CLUSTERDOWN, was lost, or the cluster does not cover every slot. The message names the
    /// slot and nodes concerned. A write stopped here went no further than its journal says.
    /// </summary>
    public sealed class NbClusterChangedException : NbStoreException
    {
        NbClusterChangedException(string location, string message, Exception? inner = null)
            : base("NbClusterChanged", DfErrorCategory.ResourceUnavailable, message, location,
                   $"Wait until the cluster is stable (redis-cli CLUSTER INFO says cluster_state:ok on every node, and INFO replication shows each master's replicas in sync), then run again; an interrupted commit is finished by Resume-DfMigration -Database {location}, or by Invoke-DfUpgrade -Resume when a whole upgrade ran it.", inner)
        { }

        /// <summary>Whether a Redis error reply says that a key is served elsewhere, or the cluster cannot serve it now.</summary>
        internal static bool IsRedirect(string message)
        {
            int start = message.IndexOf(": ", StringComparison.Ordinal);
            string said = start < 0 ? message : message.Substring(start + 2);
            return said.StartsWith("MOVED ", StringComparison.Ordinal) || said.StartsWith("ASK ", StringComparison.Ordinal) ||
                   said.StartsWith("CLUSTERDOWN", StringComparison.Ordinal) || said.StartsWith("TRYAGAIN", StringComparison.Ordinal);
        }

        internal static NbClusterChangedException Redirected(string location, string master, string what, string said) =>
            new NbClusterChangedException(location,
                $"The Redis Cluster at {location} changed under the {what}: {master} {said.Replace("Redis answered: ", "answered ")} (MOVED slot node: the slot is served by that node now). " +
                (what == "write"
                    ? $"The batches sent to that master before the refused one may have been written, and those to other masters too: an interrupted commit is finished by resuming it (Resume-DfMigration -Database {location}, or Invoke-DfUpgrade -Resume for a whole upgrade) once the cluster is stable."
                    : "What was read is not used."));

        internal static NbClusterChangedException Changed(string location, string what, string change) =>
            new NbClusterChangedException(location,
                what == "read"
                    ? $"The Redis Cluster at {location} changed under the read: {change}. What was read may lack the keys of a slot that moved, so it is not used."
                    : $"The Redis Cluster at {location} changed since it was opened: {change}. This write was not sent; earlier ones were acknowledged by masters whose slots or epochs may have changed since.");

        internal static NbClusterChangedException NotReplicated(string location, string master, long acknowledged, int replicas, TimeSpan timeout) =>
            new NbClusterChangedException(location,
                $"The write of the Redis Cluster at {location} is not on the replicas of {master}: {acknowledged} of its {replicas} acknowledged it within {timeout.TotalSeconds.ToString("0.#", System.Globalization.CultureInfo.InvariantCulture)} s (WAIT), " +
                $"so a failover now could lose it. What that master acknowledged may be written, and batches before it too: an interrupted commit is finished by resuming it (Resume-DfMigration -Database {location}, or Invoke-DfUpgrade -Resume for a whole upgrade) once its replicas are in sync (redis-cli INFO replication on that master).");

        internal static NbClusterChangedException Lost(string location, string master, string what, string said, Exception inner) =>
            new NbClusterChangedException(location,
                $"The Redis Cluster at {location} changed under the {what}: the connection to {master} was lost ({said.TrimEnd('.')}); a replica may be taking over its slots.", inner);

        internal static NbClusterChangedException NotWhole(string location, string problem) =>
            new NbClusterChangedException(location, $"The Redis Cluster at {location} is not whole: {problem}");
    }
}
