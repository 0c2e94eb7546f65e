using System;
using System.Diagnostics;

namespace DragonflowUpgrade.Engine.Safety
{
    /// <summary>Whether a process of this host, named in a lock or a record, still runs.</summary>
    static class LocalProcess
    {
        /// <summary>Whether process <paramref name="pid"/> of this host runs and is not a later process that reused the number.</summary>
        public static bool Runs(int pid, DateTimeOffset lockedAt)
        {
            try
            {
                using (var p = Process.GetProcessById(pid))
                {
                    if (p.HasExited) return false;
                    try { return p.StartTime.ToUniversalTime() <= lockedAt.UtcDateTime.AddSeconds(5); }
                    catch (InvalidOperationException) { return false; }
                    catch (System.ComponentModel.Win32Exception) { return true; }
                }
            }
            catch (ArgumentException) { return false; }
            catch (InvalidOperationException) { return false; }
        }
    }
}
