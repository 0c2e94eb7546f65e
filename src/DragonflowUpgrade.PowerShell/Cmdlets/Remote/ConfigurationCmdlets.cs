using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Management.Automation;
using DragonflowUpgrade.Dragonflow;
using DragonflowUpgrade.Dragonflow.Configuration;
using DragonflowUpgrade.Engine;
using DragonflowUpgrade.Engine.Errors;
using DragonflowUpgrade.Remote;

namespace DragonflowUpgrade.PowerShell.Cmdlets
{
    /// <summary>What Test- and Update-DfConfiguration share: the releases compared, and reading the nodes' files.</summary>
    public abstract class DfConfigurationCmdlet : DfNodeCmdlet
    {
        /// <summary>The release the nodes go to (queens), or the path of an option manifest (*.json).</summary>
        [Parameter(Mandatory = true)]
        [ValidateNotNullOrEmpty]
        [ArgumentCompleter(typeof(ReleaseCompleter))]
        public string TargetRelease { get; set; } = null!; // Mandatory: bound before the cmdlet uses it.

        /// <summary>The release the nodes run now, or the path of an option manifest; by default the release before the target.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        [ArgumentCompleter(typeof(ReleaseCompleter))]
        public string? SourceRelease { get; set; }

        /// <summary>Reads and compares every node's files, reporting progress and each file that could not be read; returns the files read.</summary>
        protected List<ConfigurationFileCheck> CheckFiles(NodeConfiguration configuration)
        {
            OptionManifest source, target;
            try
            {
                Func<string, string> fullPath = SessionState.Path.GetUnresolvedProviderPathFromPSPath;
                target = OptionManifest.Resolve(TargetRelease, fullPath);
                source = OptionManifest.Resolve(SourceRelease ?? ReleaseBefore(TargetRelease), fullPath);
            }
            catch (DfException e) { ThrowTerminatingError(Record(e)); return null!; } // ThrowTerminatingError has thrown

            const string activity = "Reading the nodes' Dragonflow configuration";
            var files = new List<ConfigurationFileCheck>();
            int done = 0;
            foreach (var file in configuration.Check(Nodes, source, target, Cancellation))
            {
                done++;
                if (file.Error is DfException df) WriteError(Record(df, file.Node));
                else if (file.Error != null) WriteError(new ErrorRecord(file.Error, "ConfigFileUnreadable", ErrorCategory.InvalidResult, file.Node));
                else files.Add(file);
                Progress(1, new ProgressReport(activity, $"{file.Node.Name}: {file.Path}", 100 * done / Math.Max(1, Nodes.Sum(n => n.ConfigFiles.Count))));
            }
            CompleteProgress(1, activity);
            return files;
        }

        static string ReleaseBefore(string target)
        {
            string? before = DragonflowReleases.Before(target);
            if (before != null) return before;
            throw new DfException("ReleaseUnknown", DfErrorCategory.InvalidArgument,
                string.Equals(DragonflowReleases.All[0], target, StringComparison.OrdinalIgnoreCase) ? $"{target} is the oldest release the module knows: nothing comes before it."
                : target.EndsWith(".json", StringComparison.OrdinalIgnoreCase) ? $"-TargetRelease is a manifest file, {target}: the release it follows is not known."
                       : $"'{target}' is not a Dragonflow release whose configuration options the module knows.",
                target, $"Give -TargetRelease and -SourceRelease among: {string.Join(", ", DragonflowReleases.All)}.");
        }
    }

    /// <summary>
    /// Test-DfConfiguration: reads each node's dragonflow.ini over SSH and reports, per option, what
    /// upgrading to the target release means for it: unknown, removed, renamed, deprecated for
    /// removal, or a changed default the file relies on. Changes nothing.
    /// </summary>
    [Cmdlet(VerbsDiagnostic.Test, "DfConfiguration")]
    [OutputType(typeof(ConfigurationFinding))]
    public sealed class TestDfConfiguration : DfConfigurationCmdlet
    {
        protected override void EndProcessing()
        {
            foreach (var file in CheckFiles(new NodeConfiguration(CreateConnector(), ThrottleLimit, Logger)))
            {
                if (file.Findings.Count == 0) WriteVerbose($"{file.Node.Name}: {file.Path}: nothing to change for {TargetRelease}.");
                WriteObject(file.Findings, true);
            }
        }
    }

    /// <summary>
    /// Update-DfConfiguration: applies the renames the target release needs to each node's
    /// dragonflow.ini, keeping every other byte. The original is kept on the node beside the
    /// file and here, under -BackupPath; the output objects are what Restore-DfConfiguration takes.
    /// </summary>
    [Cmdlet(VerbsData.Update, "DfConfiguration", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
    [OutputType(typeof(ConfigurationChange))]
    public sealed class UpdateDfConfiguration : DfConfigurationCmdlet
    {
        /// <summary>The folder the original files are copied to (one folder per node); by default df-backups/configuration in the home folder.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? BackupPath { get; set; }

        protected override void EndProcessing()
        {
            var configuration = new NodeConfiguration(CreateConnector(), ThrottleLimit, Logger);
            var approved = new List<ConfigurationFileCheck>();
            foreach (var file in CheckFiles(configuration))
            {
                if (file.Renames.Count == 0) { WriteVerbose($"{file.Node.Name}: {file.Path}: no option to rename for {TargetRelease}."); continue; }
                string renames = string.Join("", file.Renames.Select(f => $"{Environment.NewLine}    line {f.Line}: [{f.Group}] {f.Option} -> [{f.NewGroup}] {f.NewOption}"));
                string description = $"Rename {file.Renames.Count} option(s) in {file.Path} on {Target(file.Node)}:{renames}";
                if (ShouldProcess(description, description + Environment.NewLine + "Rename them?", "Update the Dragonflow configuration")) approved.Add(file);
            }
            if (approved.Count == 0) return;

            string folder = SessionState.Path.GetUnresolvedProviderPathFromPSPath(
                BackupPath ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), "df-backups", "configuration"));
            foreach (var result in configuration.Apply(approved, folder, Cancellation))
            {
                if (result.Change != null) WriteObject(result.Change);
                else if (result.Error is DfException df) WriteError(Record(df, result.File.Node));
                else if (result.Error is IOException || result.Error is UnauthorizedAccessException)
                    WriteError(new ErrorRecord(result.Error, "ConfigBackupFailed", ErrorCategory.WriteError, folder)
                    {
                        ErrorDetails = new ErrorDetails($"{result.File.Node.Name}: {result.File.Path} was left as it is: its backup could not be written in {folder}: {result.Error.Message}")
                        { RecommendedAction = "Give -BackupPath a folder you can write to." },
                    });
                else WriteError(new ErrorRecord(result.Error, "ConfigFileWriteFailed", ErrorCategory.InvalidResult, result.File.Node));
            }
        }
    }

    /// <summary>
    /// Restore-DfConfiguration: puts back the files Update-DfConfiguration changed, from the
    /// objects it output (by pipeline), refusing a file changed since unless -Force.
    /// </summary>
    [Cmdlet(VerbsData.Restore, "DfConfiguration", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
    [OutputType(typeof(ConfigurationChange))]
    public sealed class RestoreDfConfiguration : DfNodeCmdlet
    {
        readonly List<ConfigurationChange> _changes = new List<ConfigurationChange>();

        /// <summary>What Update-DfConfiguration output.</summary>
        [Parameter(Mandatory = true, ValueFromPipeline = true)]
        [ValidateNotNull]
        public ConfigurationChange[] InputObject { get; set; } = null!; // Mandatory: bound before the cmdlet uses it.

        /// <summary>Restore a file even if it changed since Update-DfConfiguration wrote it.</summary>
        [Parameter]
        public SwitchParameter Force { get; set; }

        protected override void ProcessRecord()
        {
            base.ProcessRecord();
            foreach (var change in InputObject)
                if (change != null && ShouldProcess($"{change.Path} on {Target(change.Node)}, from {change.Backup}", "Restore the Dragonflow configuration"))
                    _changes.Add(change);
        }

        protected override void EndProcessing()
        {
            if (_changes.Count == 0) return;
            foreach (var result in new NodeConfiguration(CreateConnector(), ThrottleLimit, Logger).Restore(_changes, Force, Cancellation))
            {
                if (result.Error == null) WriteObject(result.Change);
                else if (result.Error is DfException df) WriteError(Record(df, result.Change.Node));
                else WriteError(new ErrorRecord(result.Error, "ConfigFileWriteFailed", ErrorCategory.InvalidResult, result.Change.Node));
            }
        }
    }
}
