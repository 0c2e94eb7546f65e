using System;
using System.IO;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using DragonflowUpgrade.Engine.Errors;
using Microsoft.Win32.SafeHandles;

namespace DragonflowUpgrade.Remote
{
    /// <summary>
    /// A dump of Neutron's database on the operator's machine: the dump gzip-compressed, readable
    /// by its owner only, and beside it <c>&lt;file&gt;.sha256</c> holding the SHA-256 of the file
    /// as <c>sha256sum</c> writes it (<c>sha256sum -c</c> checks it too). A dump is complete when
    /// both are there and agree: it is written under a temporary name and gets its own only once
    /// the command succeeded and the checksum is written.
    /// </summary>
    public static class NeutronDump
    {
        public static string ChecksumPath(string path) => path + ".sha256";

        /// <summary>neutron-NODE-yyyyMMddTHHmmssZ.sql.gz in <paramref name="folder"/>, with -2, -3... when that name is taken.</summary>
        public static string DefaultPath(string folder, string node, DateTime utc)
        {
            string stem = Path.Combine(folder, $"neutron-{node}-{utc:yyyyMMdd'T'HHmmss'Z'}");
            string path = stem + ".sql.gz";
            for (int i = 2; File.Exists(path) || File.Exists(ChecksumPath(path)); i++) path = $"{stem}-{i}.sql.gz";
            return path;
        }

        /// <summary>Refuses a dump path where a dump, or its checksum file, already is.</summary>
        public static void CheckFree(string path)
        {
            foreach (string p in new[] { path, ChecksumPath(path) })
                if (File.Exists(p) || Directory.Exists(p))
                    throw new NeutronDatabaseException(NeutronDatabaseException.DumpExistsId, DfErrorCategory.WriteError,
                        $"{p} already exists; a dump never replaces a file.", path, "Give another -Path, or move that file away first.");
        }

        /// <summary>A new file (never an existing one), created readable and writable by its owner only where the OS has modes.</summary>
        public static FileStream CreateOwnerOnly(string path)
        {
            if (RuntimeInformation.IsOSPlatform(OSPlatform.Windows))
                return new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16);
            bool mac = RuntimeInformation.IsOSPlatform(OSPlatform.OSX);
            // O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC: mode 0600 from the moment the file exists.
            int flags = mac ? 0x1 | 0x200 | 0x800 | 0x1000000 : 0x1 | 0x40 | 0x80 | 0x80000;
            int fd = Open(path, flags, Convert.ToUInt32("600", 8));
            if (fd < 0)
            {
                int errno = Marshal.GetLastWin32Error();
                throw new IOException(errno == 17 ? $"{path} already exists." : $"Cannot create {path} (errno {errno}).");
            }
            return new FileStream(new SafeFileHandle((IntPtr)fd, true), FileAccess.Write, 1 << 16);
        }

        [DllImport("libc", EntryPoint = "open", SetLastError = true)]
        static extern int Open(string path, int flags, uint mode);

        /// <summary>The SHA-256 (lower-case hex) of a file, read as a stream.</summary>
        public static string Sha256(string path)
        {
            using (var sha = SHA256.Create())
            using (var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16))
                return Hex(sha.ComputeHash(file));
        }

        internal static string Hex(byte[] hash)
        {
            var b = new StringBuilder(hash.Length * 2);
            foreach (byte x in hash) b.Append(x.ToString("x2"));
            return b.ToString();
        }

        /// <summary>Writes the checksum file of a dump, under a temporary name first.</summary>
        internal static void WriteChecksum(string path, string checksum)
        {
            string target = ChecksumPath(path);
            string temp = Path.Combine(Path.GetDirectoryName(target)!,   // a full path: it has a folder
                "." + Path.GetFileName(target) + ".partial-" + Guid.NewGuid().ToString("N"));
            try
            {
                using (var file = CreateOwnerOnly(temp))
                {
                    var bytes = Encoding.ASCII.GetBytes($"{checksum}  {Path.GetFileName(path)}\n");
                    file.Write(bytes, 0, bytes.Length);
                    file.Flush(true);
                }
                File.Move(temp, target);
            }
            finally { if (File.Exists(temp)) File.Delete(temp); }
        }

        /// <summary>
        /// Checks a dump against its checksum file before anything is restored from it; returns
        /// the checksum. Refuses a dump without one (NeutronDumpUnverified) or that does not match
        /// it (NeutronDumpDamaged).
        /// </summary>
        public static string Verify(string path)
        {
            if (Directory.Exists(path) || (File.Exists(path) && !Engine.Store.FileModes.IsRegularFile(path)))
                throw new NeutronDatabaseException(NeutronDatabaseException.DumpNotRegularId, DfErrorCategory.InvalidArgument,
                    $"The dump {path} is not a regular file (a folder, a pipe or a device); nothing was restored.", path,
                    "Give the path of a dump file that Backup-DfNeutronDatabase wrote.");
            if (!File.Exists(path))
                throw new NeutronDatabaseException(NeutronDatabaseException.DumpNotFoundId, DfErrorCategory.ObjectNotFound,
                    $"The dump {path} does not exist.", path, "Give the path of a dump that Backup-DfNeutronDatabase wrote.");
            string sidecar = ChecksumPath(path);
            string? expected = null;
            if (File.Exists(sidecar))
            {
                string text = File.ReadAllText(sidecar, Encoding.ASCII).Trim();
                int space = text.IndexOf(' ');
                expected = (space < 0 ? text : text.Substring(0, space)).ToLowerInvariant();
                if (expected.Length != 64) expected = null;
            }
            if (expected == null)
                throw new NeutronDatabaseException(NeutronDatabaseException.DumpUnverifiedId, DfErrorCategory.InvalidData,
                    $"The dump {path} has no valid checksum file ({sidecar}), so it cannot be told complete and unchanged; nothing was restored.",
                    path, "Restore from a dump that Backup-DfNeutronDatabase wrote, with its .sha256 file beside it.");
            string actual = Sha256(path);
            if (actual != expected)
                throw new NeutronDatabaseException(NeutronDatabaseException.DumpDamagedId, DfErrorCategory.InvalidData,
                    $"The dump {path} is damaged: its SHA-256 is {actual}, and {sidecar} says {expected}; nothing was restored.",
                    path, "Restore from an undamaged copy of the dump.");
            return actual;
        }
    }

    /// <summary>An error backing up, restoring or migrating Neutron's database.</summary>
    public sealed class NeutronDatabaseException : DfException
    {
        public const string CommandFailedId = "NeutronCommandFailed";
        public const string PasswordMissingId = "NeutronPasswordMissing";
        public const string PasswordInvalidId = "NeutronPasswordInvalid";
        public const string DumpExistsId = "NeutronDumpExists";
        public const string DumpNotFoundId = "NeutronDumpNotFound";
        public const string DumpNotRegularId = "NeutronDumpNotRegular";
        public const string DumpUnverifiedId = "NeutronDumpUnverified";
        public const string DumpDamagedId = "NeutronDumpDamaged";
        public const string DumpEmptyId = "NeutronDumpEmpty";

        public NeutronDatabaseException(string errorId, DfErrorCategory category, string message, string? target, string recommendedAction, Exception? inner = null)
            : base(errorId, category, message, target, recommendedAction, inner) { }
    }
}
