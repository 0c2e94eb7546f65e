using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Management.Automation;
using System.Threading;
using DragonflowUpgrade.Engine;
using DragonflowUpgrade.Engine.Errors;
using DragonflowUpgrade.Engine.Safety;
using DragonflowUpgrade.Remote;
using DragonflowUpgrade.PowerShell.Cmdlets.Safety;
using DragonflowUpgrade.Remote.Upgrade;

namespace DragonflowUpgrade.PowerShell.Cmdlets
{
    /// <summary>
    /// What the whole-upgrade cmdlets share: the nodes (-Inventory, or -Node from Get-DfNode), the
    /// NB database, the backup folder that holds the state file, and the SSH options.
    /// </summary>
    public abstract class DfUpgradeCmdlet : DfSshCmdlet
    {
        readonly List<DfNode> _nodes = new List<DfNode>();

        /// <summary>The inventory of the cloud's nodes (.psd1 or .json).</summary>
        [Parameter(Mandatory = true, ParameterSetName = "Inventory")]
        [ValidateNotNullOrEmpty]
        public string? Inventory { get; set; }

        /// <summary>The nodes, from Get-DfNode.</summary>
        [Parameter(Mandatory = true, ParameterSetName = "Node", ValueFromPipeline = true)]
        [ValidateNotNullOrEmpty]
        public DfNode[]? Node { get; set; }

        /// <inheritdoc cref="DfDatabaseCmdlet.Database"/>
        // Not from the pipeline: a node piped in has no Database, and PowerShell would fail its binding instead of
        // asking for -Database. Why -Database is declared apart: see DfDatabaseCmdlet.Database.
        [Parameter(Mandatory = true)]
        [ValidateNotNullOrEmpty]
        public string Database { get => DatabaseValue!; set => DatabaseValue = value; } // Mandatory: bound before the cmdlet uses it.

        /// <summary>Folders of the operator's own migrations, as for Invoke-DfMigration.</summary>
        [Parameter]
        public string[]? MigrationPath { get; set; }

        /// <summary>The folder of the upgrade's backups, its state file and its report; by default the df-backups folder of Backup-DfNbDatabase.</summary>
        [Parameter]
        public string? BackupPath { get; set; }

        /// <summary>Seconds after its last heartbeat that a service counts as down (Dragonflow's service_down_time).</summary>
        [Parameter]
        [ValidateRange(1, 3600)]
        public int ServiceDownTime { get; set; } = (int)Heartbeats.DefaultDownTime.TotalSeconds;

        /// <summary>Seconds to wait for the heartbeats to stop or come.</summary>
        [Parameter]
        [ValidateRange(1, 86400)]
        public int HeartbeatTimeout { get; set; } = 120;

        [Parameter]
        [ValidateRange(1, 1024)]
        public int ThrottleLimit { get; set; } = 32;

        /// <summary>The password of Neutron's database, for a {password} in the inventory's NeutronDatabase commands (its user name is not used).</summary>
        [Parameter]
        [Credential]
        public PSCredential? NeutronCredential { get; set; }

        protected DfUpgradeCmdlet() : base(commandTimeout: 600) { }

        protected override void ProcessRecord()
        {
            if (Node != null)
                foreach (var n in Node)
                {
                    if (n == null) continue;
                    // The upgrade needs the whole cloud: a node made directly that the inventory would refuse stops it before anything runs.
                    try { UpgradeSettings.AddNode(_nodes, n); }
                    catch (DfException e) { ThrowTerminatingError(Record(e)); }
                }
        }

        /// <summary>The settings of the upgrade; null after a terminating error.</summary>
        protected UpgradeSettings Settings(string? targetRelease)
        {
            var nodes = Inventory != null ? LoadInventory(Inventory) : _nodes;
            NeutronDatabase? neutron = null;
            if (Inventory != null)
            {
                try { neutron = PsdInventory.FindNeutronDatabase(SafetyErrors.ResolvePath(this, Inventory)); }
                catch (InventoryException e) { ThrowTerminatingError(Record(e)); }
            }
            string backup;
            using (var store = OpenDatabase())
                backup = BackupPath != null
                    ? SafetyErrors.ResolvePath(this, BackupPath)
                    : Path.GetDirectoryName(NbBackup.DefaultPath(store))!; // DefaultPath is a file's full path: it has a folder
            return new UpgradeSettings
            {
                Nodes = nodes,
                Inventory = SafetyErrors.ResolvePath(this, Inventory),
                OpenDatabase = () => OpenDatabase(),
                CreateMigrator = store => MigrationSources.Migrator(this, store, MigrationPath, Logger),
                // Null only for -Resume and Undo-DfUpgrade, whose run sets the recorded release before any step reads it.
                TargetRelease = targetRelease!,
                Neutron = neutron,
                NeutronPassword = NeutronCredential?.GetNetworkCredential().Password,
                BackupFolder = backup,
                Ssh = new SshConnector(SshOptions()),
                ThrottleLimit = ThrottleLimit,
                ServiceDownTime = TimeSpan.FromSeconds(ServiceDownTime),
                HeartbeatTimeout = TimeSpan.FromSeconds(HeartbeatTimeout),
                Logger = Logger,
            };
        }

        IReadOnlyList<DfNode> LoadInventory(string inventory)
        {
            string path = SafetyErrors.ResolvePath(this, inventory);
            if (!File.Exists(path))
                ThrowTerminatingError(new ErrorRecord(new FileNotFoundException($"The inventory {path} does not exist.", path), "InventoryNotFound", ErrorCategory.ObjectNotFound, inventory));
            try { return PsdInventory.Load(path); }
            catch (InventoryException e) { ThrowTerminatingError(Record(e)); return null!; } // ThrowTerminatingError has thrown
        }

        protected IProgress<ProgressReport> ProgressTo(int id) => new SyncProgress<ProgressReport>(p => Progress(id, p));

        /// <summary>Runs the library call; an engine error or a store failure ends the cmdlet with its record.</summary>
        protected void Guarded(Action action)
        {
            try { action(); }
            catch (DfException e) { ThrowTerminatingError(Record(e)); }
            catch (IOException e) { ThrowTerminatingError(Error(e, "UpgradeStateUnwritable", BackupPath)); }
            finally { CompleteProgress(1, "Upgrading the cloud"); }
        }
    }

    /// <summary>
    /// Checks, writing nothing, what an upgrade needs: every node reachable and its service
    /// commands answering, the NB database reachable, unlocked and without an interrupted commit,
    /// the migrations planned and validated against the target release, the backup folder
    /// writable with room, the control plane's state. One object per check.
    /// </summary>
    [Cmdlet(VerbsDiagnostic.Test, "DfUpgradeReadiness", DefaultParameterSetName = "Inventory")]
    [OutputType(typeof(ReadinessResult))]
    public sealed class TestDfUpgradeReadiness : DfUpgradeCmdlet
    {
        /// <summary>The release to upgrade to (e.g. queens).</summary>
        [Parameter(Mandatory = true)]
        [ValidateNotNullOrEmpty]
        [ArgumentCompleter(typeof(ReleaseCompleter))]
        public string TargetRelease { get; set; } = null!; // Mandatory: bound before the cmdlet uses it.

        /// <summary>An option manifest (.json) to check the nodes' configuration against instead of the target release's shipped one.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? OptionManifest { get; set; }

        protected override void EndProcessing()
        {
            var settings = Settings(TargetRelease);
            settings.OptionManifest = SafetyErrors.ResolvePath(this, OptionManifest);
            Guarded(() => { foreach (var r in UpgradeReadiness.Check(settings, Cancellation)) WriteObject(r); });
        }
    }

    /// <summary>
    /// The whole offline upgrade: readiness, stop, update the code, back up and migrate the NB
    /// database, start, verify. A failure after the stop rolls every step back. Open vSwitch is
    /// never touched.
    /// </summary>
    [Cmdlet(VerbsLifecycle.Invoke, "DfUpgrade", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High, DefaultParameterSetName = "Inventory")]
    [OutputType(typeof(UpgradeStepResult))]
    public sealed class InvokeDfUpgrade : DfUpgradeCmdlet
    {
        /// <summary>The release to upgrade to (e.g. queens); with -Resume, the one recorded.</summary>
        [Parameter]
        [ArgumentCompleter(typeof(ReleaseCompleter))]
        public string? TargetRelease { get; set; }

        /// <summary>The command that installs the new release on a node ({node} is its name).</summary>
        [Parameter]
        public string? UpdateCommand { get; set; }

        /// <summary>The command that puts the old release back on a node, run on rollback on every node the update reached.</summary>
        [Parameter]
        public string? RevertCommand { get; set; }

        /// <summary>Carry on the interrupted upgrade recorded in the backup folder from the step it reached. One whose rollback began (killed in it, or stopped by an undo that failed) is rolled back instead: the rollback goes on, never the upgrade.</summary>
        [Parameter]
        public SwitchParameter Resume { get; set; }

        /// <summary>An option manifest (.json) to update the nodes' configuration to instead of the target release's shipped one.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? OptionManifest { get; set; }

        /// <summary>On failure, roll nothing back: leave the cloud as the failed step left it (stopped) for a human.</summary>
        [Parameter]
        public SwitchParameter NoRollback { get; set; }

        protected override void EndProcessing()
        {
            if (!Resume && string.IsNullOrEmpty(TargetRelease))
                ThrowTerminatingError(Record(new DfException("UpgradeTargetMissing", DfErrorCategory.InvalidArgument,
                    "Invoke-DfUpgrade needs -TargetRelease (or -Resume to carry on a recorded upgrade).", null, "Give -TargetRelease, e.g. queens.")));
            var settings = Settings(TargetRelease);
            settings.UpdateCommand = UpdateCommand;
            settings.RevertCommand = RevertCommand;
            settings.NoRollback = NoRollback;
            settings.OptionManifest = SafetyErrors.ResolvePath(this, OptionManifest);
            var run = new UpgradeRun(settings);
            Guarded(() =>
            {
                if (Resume)
                {
                    var state = run.FindInterrupted() ?? throw UpgradeErrors.NothingToResume(settings.BackupFolder);
                    if (!ShouldProcess($"upgrade {state.Id} of {state.Database} to {state.TargetRelease}", (state.RollbackBegun ? "Go on with the rollback from step " : "Resume from step ") + state.StepReached)) return;
                    run.Resume(WriteObject, ProgressTo(1), Cancellation);
                    return;
                }
                run.RequireNoneUnfinished();
                var steps = run.Describe();
                string summary = $"upgrade {settings.Nodes.Count} node(s) and {Database} to {TargetRelease}: " +
                    string.Join(" → ", steps.Select(s => s.Step).Distinct());
                if (!ShouldProcess(summary, "Upgrade the cloud"))
                {
                    if (MyInvocation.BoundParameters.ContainsKey("WhatIf")) foreach (var s in steps) WriteObject(s);
                    return;
                }
                run.Run(WriteObject, ProgressTo(1), Cancellation, () => UpgradeReadiness.Check(settings, Cancellation).ToList());
            });
        }
    }

    /// <summary>Rolls back the interrupted upgrade recorded in the backup folder: every step begun, last first.</summary>
    [Cmdlet(VerbsCommon.Undo, "DfUpgrade", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High, DefaultParameterSetName = "Inventory")]
    [OutputType(typeof(UpgradeStepResult))]
    public sealed class UndoDfUpgrade : DfUpgradeCmdlet
    {
        /// <summary>The command that puts the old release back on a node; by default the one the upgrade was started with.</summary>
        [Parameter]
        public string? RevertCommand { get; set; }

        protected override void EndProcessing()
        {
            var settings = Settings(null);
            settings.RevertCommand = RevertCommand;
            var run = new UpgradeRun(settings);
            Guarded(() =>
            {
                var state = run.FindInterrupted() ?? throw UpgradeErrors.NothingToResume(settings.BackupFolder);
                if (!ShouldProcess($"upgrade {state.Id} of {state.Database} to {state.TargetRelease}", "Roll back from step " + state.StepReached)) return;
                run.Undo(WriteObject, ProgressTo(1), Cancellation);
            });
        }
    }
}
