using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using DragonflowUpgrade.Engine;
using DragonflowUpgrade.Engine.Errors;
using DragonflowUpgrade.Engine.Migrations;
using DragonflowUpgrade.Engine.Store;
using Microsoft.Extensions.Logging;

namespace DragonflowUpgrade.Remote.Upgrade
{
    /// <summary>
    /// What an upgrade works on and with: the nodes, the NB database, the commands, the state.
    /// Whoever makes the settings sets every property that is neither nullable nor has a default
    /// (hence their null! initializers: the builds for Windows PowerShell have no required members).
    /// </summary>
    public sealed class UpgradeSettings
    {
        /// <summary>
        /// Adds a node given to -Node to <paramref name="nodes"/>, checked as an inventory's node is
        /// (<see cref="Remote.Inventory.Check"/>). The same machine given twice is kept once; two
        /// machines under one name are refused as an inventory refuses them: the upgrade would leave one out.
        /// </summary>
        public static void AddNode(List<DfNode> nodes, DfNode node)
        {
            Remote.Inventory.Check(node);
            var named = nodes.FirstOrDefault(n => string.Equals(n.Name, node.Name, StringComparison.OrdinalIgnoreCase));
            if (named == null) { nodes.Add(node); return; }
            string first = $"{NodeRecord.Of(named)}, chassis {named.Chassis}", second = $"{NodeRecord.Of(node)}, chassis {node.Chassis}";
            if (first == second) return;
            throw new DfException(InventoryException.InvalidId, DfErrorCategory.InvalidArgument,
                $"The nodes given to -Node: '{node.Name}' names two nodes ({first}; {second}), so the upgrade would leave one of them out.", node.Name,
                "Give each machine its own name, as an inventory must; nothing was run on any node.");
        }

        public IReadOnlyList<DfNode> Nodes { get; set; } = null!;
        /// <summary>The inventory file the nodes come from; null when they were given directly.</summary>
        public string? Inventory { get; set; }
        /// <summary>Opens the NB database (the cmdlet knows the password; the upgrade never sees it in text).</summary>
        public Func<INbStore> OpenDatabase { get; set; } = null!;
        /// <summary>A migrator over a store with every migration the operator's -MigrationPath adds.</summary>
        public Func<INbStore, Migrator> CreateMigrator { get; set; } = null!;
        public string TargetRelease { get; set; } = null!;
        /// <summary>An option manifest (.json) the nodes' configuration is updated to instead of the target release's shipped one; null for the shipped one.</summary>
        public string? OptionManifest { get; set; }
        /// <summary>Neutron's database (the inventory's NeutronDatabase table); null when the inventory has none.</summary>
        public NeutronDatabase? Neutron { get; set; }
        /// <summary>The password the Neutron commands get for {password}; null when none was given.</summary>
        public string? NeutronPassword { get; set; }
        /// <summary>The command that updates a node's code; null to leave the code as it is.</summary>
        public string? UpdateCommand { get; set; }
        /// <summary>The command that brings a node's old code back; null when none was given.</summary>
        public string? RevertCommand { get; set; }
        /// <summary>The folder of the backups, the state file and the report.</summary>
        public string BackupFolder { get; set; } = null!;
        public SshConnector Ssh { get; set; } = null!;
        public int ThrottleLimit { get; set; } = 32;
        public TimeSpan ServiceDownTime { get; set; } = Heartbeats.DefaultDownTime;
        public TimeSpan HeartbeatTimeout { get; set; } = TimeSpan.FromSeconds(120);
        public bool NoRollback { get; set; }
        public ILogger Logger { get; set; } = Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;
    }

    /// <summary>What the steps share while an upgrade runs.</summary>
    public sealed class UpgradeContext : IDisposable
    {
        INbStore? _store;

        public UpgradeContext(UpgradeSettings settings, UpgradeState state, Action<UpgradeStepResult> emit, IProgress<ProgressReport> progress, CancellationToken cancel)
        {
            Settings = settings;
            State = state;
            Emit = emit;
            Progress = progress;
            Cancel = cancel;
            Plane = new ControlPlane(settings.Ssh, settings.ThrottleLimit, settings.Logger);
        }

        public UpgradeSettings Settings { get; }
        public UpgradeState State { get; }
        public ControlPlane Plane { get; }
        public Action<UpgradeStepResult> Emit { get; }
        public IProgress<ProgressReport> Progress { get; }
        public CancellationToken Cancel { get; }
        public INbStore Store => _store ?? (_store = Settings.OpenDatabase());
        /// <summary>The NB database's lock, held from before the stop until the upgrade ends; null for -WhatIf.</summary>
        public DragonflowUpgrade.Engine.Safety.UpgradeLock? Lock { get; set; }

        public HeartbeatCheck HeartbeatCheck() => new HeartbeatCheck(Store)
        {
            DownTime = Settings.ServiceDownTime,
            Timeout = Settings.HeartbeatTimeout,
        };

        /// <summary>Writes the state file (a -WhatIf run has none).</summary>
        public void Save() { if (State.Path != null) State.Save(); }

        public void Dispose() => _store?.Dispose();
    }
}
