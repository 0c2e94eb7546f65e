using System;

namespace DragonflowUpgrade.Engine.Store
{
    /// <summary>Opens the NB database that a <c>-Database</c> value names: a URI or a file path.</summary>
    public static class NbStoreFactory
    {
        /// <summary>
        /// Opens <paramref name="database"/>. A value that is neither a server URI nor a .jsonl
        /// path throws <see cref="NbDatabaseUriException"/>; errors name only its redacted form.
        /// </summary>
        public static INbStore Open(string database) => Open(database, null, null);

        /// <summary>
        /// Opens <paramref name="database"/> with <paramref name="user"/> and <paramref name="password"/>
        /// (a credential given apart from the URI) in place of any the URI carries.
        /// </summary>
        public static INbStore Open(string database, string user, string password)
        {
            if (string.IsNullOrWhiteSpace(database))
                throw new NbDatabaseUriException("", "No NB database given.");
            if (FileNbStore.IsFileStorePath(database) && !database.Contains("://"))
            {
                if (password != null)
                    throw new NbDatabaseUriException(database, $"'{database}' is a file: it takes no credential.", "Leave out -Credential for a .jsonl database.");
                return new FileNbStore(database);
            }
            return Open(NbDatabaseUri.Parse(database), user, password);
        }

        public static INbStore Open(NbDatabaseUri uri, string user = null, string password = null)
        {
            if (password != null) uri = uri.WithCredential(user, password);
            switch (uri.Scheme)
            {
                case "redis": return RedisNbStore.Open(uri);
                case "etcd": return EtcdNbStore.Open(uri);
                default: throw new NbDatabaseUriException(uri.Display, $"'{uri.Display}': '{uri.Scheme}' databases are not supported.");
            }
        }
    }
}
