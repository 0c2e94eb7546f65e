using System;
using System.Runtime.InteropServices;

namespace DragonflowUpgrade.Engine.Store
{
    /// <summary>Owner-only file permissions (0600) where the OS has them.</summary>
    static class FileModes
    {
        [DllImport("libc", SetLastError = true, EntryPoint = "chmod")]
        static extern int Chmod(string path, uint mode);

        public static void SetOwnerOnly(string path)
        {
            if (RuntimeInformation.IsOSPlatform(OSPlatform.Windows)) return;
            if (Chmod(path, Convert.ToUInt32("600", 8)) != 0)
                throw new System.IO.IOException($"Cannot make '{path}' readable by its owner only (errno {Marshal.GetLastWin32Error()}).");
        }
    }
}
