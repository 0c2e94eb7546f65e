using System;
using System.Runtime.InteropServices;

namespace DragonflowUpgrade.Engine.Store
{
    /// <summary>Owner-only file permissions (0600) where the OS has them; what kind of file a path is.</summary>
    static class FileModes
    {
        [DllImport("libc", SetLastError = true, EntryPoint = "chmod")]
        static extern int Chmod(string path, uint mode);

        // The runtime's own stat (libSystem.Native ships with every .NET on Unix); its result
        // starts with two ints, the flags and the mode, whose S_IFMT bits give the file's type.
        [DllImport("libSystem.Native", EntryPoint = "SystemNative_Stat", SetLastError = true)]
        static extern int Stat(string path, byte[] status);

        /// <summary>
        /// Whether an existing path is a regular file, not a pipe, socket or device (opening a
        /// pipe would wait for a writer). Where the runtime cannot say (Windows, .NET Framework), true.
        /// </summary>
        public static bool IsRegularFile(string path)
        {
            if (RuntimeInformation.IsOSPlatform(OSPlatform.Windows)) return true;
            var status = new byte[512];  // larger than the runtime's status structure
            try
            {
                if (Stat(path, status) != 0) return true;  // let opening it say what is wrong
            }
            catch (Exception e) when (e is DllNotFoundException || e is EntryPointNotFoundException) { return true; }
            return (BitConverter.ToInt32(status, 4) & 0xF000) == 0x8000;
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
                string real = RealPathOrNull(fullPath);
                if (real != null) return real;
                string dir = System.IO.Path.GetDirectoryName(fullPath);
                string realDir = dir == null ? null : RealPathOrNull(dir);
                return realDir == null ? fullPath : System.IO.Path.Combine(realDir, System.IO.Path.GetFileName(fullPath));
            }
            catch (Exception e) when (e is DllNotFoundException || e is EntryPointNotFoundException) { return fullPath; }
        }

        static string RealPathOrNull(string path)
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
            if (Chmod(path, Convert.ToUInt32("600", 8)) != 0)
                throw new System.IO.IOException($"Cannot make '{path}' readable by its owner only (errno {Marshal.GetLastWin32Error()}).");
        }
    }
}
