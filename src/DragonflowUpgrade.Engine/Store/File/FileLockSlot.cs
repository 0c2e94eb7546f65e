using System;
using System.IO;
using System.Text;

namespace DragonflowUpgrade.Engine.Store
{
    /// <summary>
    /// The lock file beside an embedded database. Creation is atomic (create-new); replacing
    /// and deleting compare the content first, which is enough between the few processes of
    /// one host that share a file database.
    /// </summary>
    sealed class FileLockSlot : ILockSlot
    {
        readonly string _path;
        public FileLockSlot(string path) { _path = path; }
        public string Where => _path;

        public bool TryCreate(string value, TimeSpan ttl)
        {
            try
            {
                using (var f = new FileStream(_path, FileMode.CreateNew, FileAccess.Write, FileShare.Read))
                {
                    var bytes = Encoding.UTF8.GetBytes(value);
                    f.Write(bytes, 0, bytes.Length);
                    f.Flush(true);
                }
                return true;
            }
            catch (IOException) when (File.Exists(_path)) { return false; }
            catch (Exception e) when (e is IOException || e is UnauthorizedAccessException)
            {
                throw new NbStoreException($"Cannot create the lock file {_path}: {e.Message}", e);
            }
        }

        public string? Read()
        {
            try { return File.ReadAllText(_path, Encoding.UTF8); }
            catch (FileNotFoundException) { return null; }
            catch (DirectoryNotFoundException) { return null; }
            catch (Exception e) when (e is IOException || e is UnauthorizedAccessException)
            {
                throw new NbStoreException($"Cannot read the lock file {_path}: {e.Message}", e);
            }
        }

        public bool Replace(string expected, string value, TimeSpan ttl)
        {
            if (Read() != expected) return false;
            string temp = _path + "." + Guid.NewGuid().ToString("N") + ".tmp";
            try
            {
                File.WriteAllText(temp, value, new UTF8Encoding(false));
                File.Replace(temp, _path, null);
                return true;
            }
            catch (Exception e) when (e is IOException || e is UnauthorizedAccessException)
            {
                throw new NbStoreException($"Cannot write the lock file {_path}: {e.Message}", e);
            }
            finally
            {
                try { File.Delete(temp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            }
        }

        public bool Delete(string expected)
        {
            if (Read() != expected) return false;
            try { File.Delete(_path); return true; }
            catch (Exception e) when (e is IOException || e is UnauthorizedAccessException)
            {
                throw new NbStoreException($"Cannot remove the lock file {_path}: {e.Message}", e);
            }
        }
    }
}
