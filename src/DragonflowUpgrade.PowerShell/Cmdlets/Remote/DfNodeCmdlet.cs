using DragonflowUpgrade.Engine;
using DragonflowUpgrade.Engine.Errors;
using System;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using System.Threading;
using DragonflowUpgrade.Remote;

namespace DragonflowUpgrade.PowerShell.Cmdlets
{
    /// <summary>
    /// A cmdlet that works on nodes over SSH: takes them from the pipeline (Get-DfNode, or any
    /// object with a Node property), and then works on all of them at once, in EndProcessing.
    /// </summary>
    public abstract class DfNodeCmdlet : DfSshCmdlet
    {
        readonly List<DfNode> _nodes = new List<DfNode>();
        readonly HashSet<string> _names = new HashSet<string>(StringComparer.OrdinalIgnoreCase);

        /// <summary>The nodes, from Get-DfNode.</summary>
        [Parameter(Mandatory = true, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
        [ValidateNotNullOrEmpty]
        public DfNode[] Node { get; set; } = null!; // Mandatory: bound before the cmdlet uses it.

        /// <summary>How many nodes are worked on at once.</summary>
        [Parameter]
        [ValidateRange(1, 1024)]
        public int ThrottleLimit { get; set; } = 32;

        /// <summary>The nodes given, each once, in the order they came.</summary>
        protected IReadOnlyList<DfNode> Nodes => _nodes;

        protected override void ProcessRecord()
        {
            foreach (var node in Node)
            {
                if (node == null) continue;
                // A node made directly has not been through the inventory's checks: one error per bad node, the rest go on.
                try { Remote.Inventory.Check(node); }
                catch (DfException e) { WriteError(Record(e)); continue; }
                if (_names.Add(node.Name)) _nodes.Add(node);
            }
        }

        protected DfNodeCmdlet() : base(commandTimeout: 180) { }

        protected SshConnector CreateConnector() => new SshConnector(SshOptions());

        protected static string Target(DfNode node) => $"{node.Name} ({node.Address})";

        /// <summary>
        /// ShouldProcess for commands about to run on a node: -WhatIf and -Confirm show the exact
        /// command lines the node's shell would be given, in the order it would get them.
        /// </summary>
        protected bool ShouldRun(DfNode node, string action, IEnumerable<string> commands)
        {
            string lines = string.Join("", commands.Select(c => Environment.NewLine + "    " + c));
            string description = $"{action} on {Target(node)}, running:{lines}";
            return ShouldProcess(description, description + Environment.NewLine + "Run these commands?", action);
        }
    }
}
