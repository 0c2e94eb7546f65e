using System;
using System.Runtime.InteropServices;

namespace DragonflowUpgrade.Engine.Store
{
    /// <summary>Owner-only file permissions (0600), and a file's permissions copied, where the OS has them; what kind of file a path is.</summary>
    static class FileModes
    {
#if !NET7_0_OR_GREATER
        [DllImport("libc", SetLastError = true, EntryPoint = "chmod")]
        static extern int Chmod(string path, uint mode);
#endif

        // No public .NET API tells a pipe, socket or device from a regular file: FileAttributes and
        // UnixFileMode carry no file type, and opening a pipe blocks. So this asks libc's stat,
        // whose structure is the platform's ABI (unlike the runtime's private SystemNative_Stat):
        // st_mode sits at a fixed offset for each OS and architecture. glibc before 2.33 exports
        // stat only as __xstat.
        [DllImport("libc", EntryPoint = "stat", SetLastError = true)]
        static extern int StatC(string path, byte[] status);

        [DllImport("libc", EntryPoint = "__xstat", SetLastError = true)]
        static extern int XStat(int version, string path, byte[] status);

        /// <summary>
        /// Whether an existing path is a regular file, not a pipe, socket or device (opening a
        /// pipe would wait for a writer). Where this cannot be told (Windows, another platform), true.
        /// </summary>
        public static bool IsRegularFile(string path) =>
            !(Stat(path) is (int mode, _, _)) || (mode & 0xF000) == 0x8000;  // S_IFMT, S_IFREG; unknown: let opening it say what is wrong

        // st_mode, st_uid and st_gid of an existing path; null where they cannot be told.
        static (int Mode, uint Uid, uint Gid)? Stat(string path)
        {
            bool linux = RuntimeInformation.IsOSPlatform(OSPlatform.Linux), mac = RuntimeInformation.IsOSPlatform(OSPlatform.OSX);
            var arch = RuntimeInformation.ProcessArchitecture;
            // Offsets of st_mode (and its size), st_uid and st_gid in struct stat.
            int at, size = 4, uid, gid;
            if (linux && arch == Architecture.X64) { at = 24; uid = 28; gid = 32; }
            else if (linux && arch == Architecture.Arm64) { at = 16; uid = 24; gid = 28; }
            else if (mac && arch == Architecture.Arm64) { at = 4; size = 2; uid = 16; gid = 20; }
            else if (mac && arch == Architecture.X64) { at = 8; size = 2; uid = 12; gid = 16; }  // stat without $INODE64: 32-bit inode numbers
            else return null;
            var status = new byte[256];  // larger than struct stat
            try
            {
                int result;
                try { result = StatC(path, status); }
                catch (EntryPointNotFoundException) when (linux) { result = XStat(arch == Architecture.X64 ? 1 : 0, path, status); }
                if (result != 0) return null;
            }
            catch (Exception e) when (e is DllNotFoundException || e is EntryPointNotFoundException) { return null; }
            return (size == 2 ? BitConverter.ToUInt16(status, at) : BitConverter.ToInt32(status, at), BitConverter.ToUInt32(status, uid), BitConverter.ToUInt32(status, gid));
        }

        [DllImport("libc", SetLastError = true, EntryPoint = "chown")]
        static extern int Chown(string path, uint owner, uint group);

        /// <summary>
        /// Gives the new file <paramref name="to"/> the permissions of <paramref name="from"/>, the file it
        /// will replace (a rewrite of a database kept readable by its owner only stays so), and its owner
        /// and group where this user may give them (root); where the OS has them.
        /// </summary>
        public static void CopyPermissions(string from, string to)
        {
            if (RuntimeInformation.IsOSPlatform(OSPlatform.Windows) || !(Stat(from) is (int mode, uint uid, uint gid)) || !(Stat(to) is (int now, uint nowUid, uint nowGid))) return;
            // The owner only root may give; the group, a member of it too. What this user may not give
            // stays this user's, as on any file it writes.
            if ((uid != nowUid || gid != nowGid) && Chown(to, uid, gid) != 0 && gid != nowGid) Chown(to, uint.MaxValue, gid);
            const int permissions = 0x1FF;  // rwx for owner, group and others; not set-id or sticky
            if ((mode & permissions) == (now & permissions)) return;
#if NET7_0_OR_GREATER
            try { System.IO.File.SetUnixFileMode(to, (System.IO.UnixFileMode)(mode & permissions)); }
            catch (UnauthorizedAccessException e)
            { throw new System.IO.IOException($"Cannot give the rewritten file the permissions of '{from}' ({Convert.ToString(mode & permissions, 8)}): {e.Message}", e); }
#else
            if (Chmod(to, (uint)(mode & permissions)) != 0)
                throw new System.IO.IOException($"Cannot give the rewritten file the permissions of '{from}' ({Convert.ToString(mode & permissions, 8)}): errno {Marshal.GetLastWin32Error()}.");
#endif
        }

        [DllImport("libc", SetLastError = true, EntryPoint = "realpath")]
        static extern IntPtr RealPathC(string path, IntPtr resolved);

        [DllImport("libc", EntryPoint = "free")]
        static extern void Free(IntPtr p);

        /// <summary>
        /// The path with every symbolic link in it resolved (realpath(3)); for a file that does not
        /// exist yet, its folder's real path and its name. Where the OS cannot say (Windows), the path.
        /// </summary>
        public static string RealPath(string fullPath)
        {
            if (RuntimeInformation.IsOSPlatform(OSPlatform.Windows)) return fullPath;
            try
            {
                string? real = RealPathOrNull(fullPath);
                if (real != null) return real;
                string? dir = System.IO.Path.GetDirectoryName(fullPath);
                string? realDir = dir == null ? null : RealPathOrNull(dir);
                return realDir == null ? fullPath : System.IO.Path.Combine(realDir, System.IO.Path.GetFileName(fullPath));
            }
            catch (Exception e) when (e is DllNotFoundException || e is EntryPointNotFoundException) { return fullPath; }
        }

        static string? RealPathOrNull(string path)
        {
            IntPtr p = RealPathC(path, IntPtr.Zero);
            if (p == IntPtr.Zero) return null;
            try
            {
                int n = 0;
                while (Marshal.ReadByte(p, n) != 0) n++;
                var bytes = new byte[n];
                Marshal.Copy(p, bytes, 0, n);
                return System.Text.Encoding.UTF8.GetString(bytes);
            }
            finally { Free(p); }
        }

        public static void SetOwnerOnly(string path)
        {
            if (RuntimeInformation.IsOSPlatform(OSPlatform.Windows)) return;
#if NET7_0_OR_GREATER
            try { System.IO.File.SetUnixFileMode(path, System.IO.UnixFileMode.UserRead | System.IO.UnixFileMode.UserWrite); }
            catch (UnauthorizedAccessException e)
            { throw new System.IO.IOException($"Cannot make '{path}' readable by its owner only ({e.Message}).", e); }
#else
            if (Chmod(path, Convert.ToUInt32("600", 8)) != 0)
                throw new System.IO.IOException($"Cannot make '{path}' readable by its owner only (errno {Marshal.GetLastWin32Error()}).");
#endif
        }
    }
}
