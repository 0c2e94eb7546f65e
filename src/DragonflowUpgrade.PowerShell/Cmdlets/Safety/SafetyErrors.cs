using DragonflowUpgrade.Engine;
using System;
using System.IO;
using System.Management.Automation;
using DragonflowUpgrade.Engine.Safety;
using DragonflowUpgrade.Engine.Store;

namespace DragonflowUpgrade.PowerShell.Cmdlets.Safety
{
    /// <summary>Stable error ids and categories for what the lock, backups and the commit journal throw.</summary>
    static class SafetyErrors
    {
        /// <summary>Whether <paramref name="e"/> is one of the safety layer's own refusals (caught before general store errors).</summary>
        public static bool Handles(Exception e) =>
            e is UpgradeLockedException || e is ControlPlaneAliveException || e is CommitInProgressException ||
            e is CommitInterruptedException || e is BackupInvalidException || e is NoUpgradeRunException ||
            e is Engine.Errors.DfException;

        public static ErrorRecord Record(Exception e, object target)
        {
            switch (e)
            {
                case UpgradeLockedException _: return new ErrorRecord(e, "DatabaseLocked", ErrorCategory.ResourceBusy, target);
                case ControlPlaneAliveException _: return new ErrorRecord(e, "ControlPlaneAlive", ErrorCategory.ResourceBusy, target);
                case CommitInProgressException _: return new ErrorRecord(e, "CommitInProgress", ErrorCategory.InvalidOperation, target);
                case CommitInterruptedException _: return new ErrorRecord(e, "CommitInterrupted", ErrorCategory.ConnectionError, target);
                case BackupInvalidException b: return new ErrorRecord(e, "BackupInvalid", ErrorCategory.InvalidData, b.Path);
                case NoUpgradeRunException _: return new ErrorRecord(e, "NoUpgradeRun", ErrorCategory.ObjectNotFound, target);
                case Engine.Errors.DfException df: return DfCmdlet.Record(df, target);
                case ArgumentException _: return new ErrorRecord(e, "InvalidArgument", ErrorCategory.InvalidArgument, target);
                case IOException _:
                case UnauthorizedAccessException _: return new ErrorRecord(e, "FileWriteFailed", ErrorCategory.WriteError, target);
                default: return new ErrorRecord(e, "UpgradeSafetyFailed", ErrorCategory.NotSpecified, target);
            }
        }

        /// <summary>Whether the cmdlet runs under -WhatIf (given or by preference).</summary>
        public static bool IsWhatIf(PSCmdlet cmdlet) =>
            cmdlet.MyInvocation.BoundParameters.TryGetValue("WhatIf", out var w)
                ? ((SwitchParameter)w).IsPresent
                : LanguagePrimitives.IsTrue(cmdlet.GetVariableValue("WhatIfPreference"));

        public static string ResolvePath(PSCmdlet cmdlet, string path) =>
            cmdlet.SessionState.Path.GetUnresolvedProviderPathFromPSPath(path);
    }

    /// <summary>A cmdlet of the safety layer: its failures become terminating errors with the ids above.</summary>
    public abstract class DfSafetyCmdlet : DfDatabaseCmdlet
    {
        protected override void ProcessRecord()
        {
            using (var store = OpenStore())
            {
                try { Process(store); }
                catch (Exception e) when (SafetyErrors.Handles(e) || e is NbStoreException || e is ArgumentException || e is IOException ||
                                          e is UnauthorizedAccessException || e is InvalidOperationException)
                {
                    ThrowTerminatingError(SafetyErrors.Record(e, Database));
                }
            }
        }

        protected abstract void Process(INbStore store);

        protected IProgress<Engine.ProgressReport> ProgressTo(int activityId) =>
            new SyncProgress<Engine.ProgressReport>(p => Progress(activityId, p));
    }
}
