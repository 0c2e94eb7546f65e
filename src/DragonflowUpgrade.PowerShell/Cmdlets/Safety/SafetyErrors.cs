using System;
using System.Diagnostics.CodeAnalysis;
using System.Management.Automation;
using DragonflowUpgrade.Engine.Store;

namespace DragonflowUpgrade.PowerShell.Cmdlets.Safety
{
    /// <summary>What the safety cmdlets share besides their errors, which <see cref="DfCmdlet.ErrorFor"/> maps.</summary>
    static class SafetyErrors
    {
        /// <summary>Same as <see cref="DfCmdlet.IsReported"/>; for callers not yet moved to it.</summary>
        public static bool Handles(Exception e) => DfCmdlet.IsReported(e);

        /// <summary>Same as <see cref="DfCmdlet.ErrorFor"/>; for callers not yet moved to it.</summary>
        public static ErrorRecord Record(Exception e, object? target) => DfCmdlet.ErrorFor(e, target);

        /// <summary>Whether the cmdlet runs under -WhatIf (given or by preference).</summary>
        public static bool IsWhatIf(PSCmdlet cmdlet) =>
            cmdlet.MyInvocation.BoundParameters.TryGetValue("WhatIf", out var w)
                ? ((SwitchParameter)w).IsPresent
                : LanguagePrimitives.IsTrue(cmdlet.GetVariableValue("WhatIfPreference"));

        /// <summary>The file system path of a path the user gave (relative to the current location); null for null.</summary>
        [return: NotNullIfNotNull(nameof(path))]
        public static string? ResolvePath(PSCmdlet cmdlet, string? path) =>
            path == null ? null : cmdlet.SessionState.Path.GetUnresolvedProviderPathFromPSPath(path);
    }

    /// <summary>A cmdlet of the safety layer: a failed database is one non-terminating error, and the next piped one is processed (see <see cref="DfCmdlet.OnDatabase"/>).</summary>
    public abstract class DfSafetyCmdlet : DfDatabaseCmdlet
    {
        protected override void ProcessRecord() => OnStore(Process);

        protected abstract void Process(INbStore store);

        protected IProgress<Engine.ProgressReport> ProgressTo(int activityId) =>
            new SyncProgress<Engine.ProgressReport>(p => Progress(activityId, p));
    }
}
