using System;
using DragonflowUpgrade.Engine.Errors;

namespace DragonflowUpgrade.Engine.Store
{
    /// <summary>Opens the NB database that a <c>-Database</c> value names: a URI or a file path.</summary>
    public static class NbStoreFactory
    {
        /// <summary>Whether a <c>-Database</c> value names a file (a path ending in .jsonl or .jsonl.gz) rather than a server.</summary>
        public static bool IsFile(string? database) =>
            database != null && FileNbStore.IsFileStorePath(database) && !database.Contains("://");

        /// <summary>
        /// Opens <paramref name="database"/>, with <paramref name="user"/> and <paramref name="password"/>
        /// (a credential given apart from the URI) in place of any the URI carries. A file path is
        /// first given to <paramref name="resolvePath"/> (a relative path is the caller's to resolve).
        /// A value that is neither a server URI nor a .jsonl path, or a URI whose password is masked
        /// with no credential, throws <see cref="NbDatabaseUriException"/>; errors name only its redacted form.
        /// </summary>
        public static INbStore Open(string database, string? user = null, string? password = null, Func<string, string>? resolvePath = null)
        {
            if (string.IsNullOrWhiteSpace(database))
                throw new NbDatabaseUriException("", "No NB database given.");
            if (IsFile(database))
            {
                if (password != null)
                    throw new NbDatabaseUriException(database, $"'{database}' is a file: it takes no credential.", "Leave out -Credential for a .jsonl database.");
                return new FileNbStore(Resolve(database, resolvePath));
            }
            var uri = NbDatabaseUri.Parse(database).WithTlsFilesResolved(path => Resolve(path, resolvePath));
            if (password != null) uri = uri.WithCredential(user, password);
            else if (uri.Password == NbDatabaseUri.Mask) throw NbDatabaseUriException.CredentialMissing(uri.Display);
            switch (uri.Kind)
            {
                case "redis": return RedisNbStore.Open(uri);
                case "redis-cluster": return RedisClusterNbStore.Open(uri);
                case "etcd": return EtcdNbStore.Open(uri);
                default: throw new NbDatabaseUriException(uri.Display, $"'{uri.Display}': '{uri.Scheme}' databases are not supported.");
            }
        }

        static string Resolve(string path, Func<string, string>? resolvePath)
        {
            if (resolvePath == null) return path;
            try { return resolvePath(path); }
            catch (Exception e) when (!(e is DfException) && !(e is OutOfMemoryException))
            {
                throw new NbDatabaseUriException(path, $"'{path}' is not a path of the file system: {e.Message}",
                    "Give a .jsonl or .jsonl.gz file by a file system path, or a redis:// or etcd:// URI.", e);
            }
        }
    }
}
