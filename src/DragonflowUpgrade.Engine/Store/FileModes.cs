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

        public static void SetOwnerOnly(string path)
        {
            if (RuntimeInformation.IsOSPlatform(OSPlatform.Windows)) return;
            if (Chmod(path, Convert.ToUInt32("600", 8)) != 0)
                throw new System.IO.IOException($"Cannot make '{path}' readable by its owner only (errno {Marshal.GetLastWin32Error()}).");
        }
    }
}
