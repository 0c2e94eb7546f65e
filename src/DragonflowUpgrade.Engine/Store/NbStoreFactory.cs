using System;

namespace DragonflowUpgrade.Engine.Store
{
    /// <summary>Opens the NB database that a <c>-Database</c> value names: a URI or a file path.</summary>
    public static class NbStoreFactory
    {
        public static INbStore Open(string database)
        {
            if (string.IsNullOrWhiteSpace(database))
                throw new NbStoreException("No NB database given: pass a redis://host:port[/db] or etcd://host:port URI or a path ending in .jsonl or .jsonl.gz.");
            if (FileNbStore.IsFileStorePath(database) && !database.Contains("://"))
                return new FileNbStore(database);
            if (!Uri.TryCreate(database, UriKind.Absolute, out var uri) || uri.IsFile)
                throw new NbStoreException($"'{database}' is neither an NB database URI (redis://host:port[/db], etcd://host:port) nor a path ending in .jsonl or .jsonl.gz.");
            switch (uri.Scheme.ToLowerInvariant())
            {
                case "redis": return RedisNbStore.Open(uri);
                case "etcd": return EtcdNbStore.Open(uri);
                default:
                    throw new NbStoreException($"'{uri.Scheme}' databases are not supported: use redis://host:port[/db], etcd://host:port or a .jsonl/.jsonl.gz path.");
            }
        }
    }
}
