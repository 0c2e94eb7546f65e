using DragonflowUpgrade.Engine;
using System.Collections.Generic;
using System.Linq;
using DragonflowUpgrade.Engine.Errors;
using System.Management.Automation;
using DragonflowUpgrade.Remote;

namespace DragonflowUpgrade.PowerShell.Cmdlets
{
    /// <summary>Runs one shell command on every node, in parallel: one result per node, one error per failed node.</summary>
    [Cmdlet(VerbsLifecycle.Invoke, "DfNodeCommand", SupportsShouldProcess = true)]
    [OutputType(typeof(NodeCommandResult))]
    public sealed class InvokeDfNodeCommand : DfNodeCmdlet
    {
        /// <summary>The command, run by the node user's login shell.</summary>
        [Parameter(Mandatory = true, Position = 0)]
        [ValidateNotNullOrEmpty]
        public string Command { get; set; } = null!; // Mandatory: bound before the cmdlet uses it.

        protected override void EndProcessing()
        {
            var targets = Nodes.Where(n => ShouldRun(n, "Run a command", new[] { Command })).ToList();
            if (targets.Count == 0) return;
            const string activity = "Running a command on the nodes";
            var plane = new ControlPlane(CreateConnector(), ThrottleLimit, Logger);
            int done = 0;
            IEnumerable<NodeCommandResult> results;
            try { results = plane.Invoke(targets, Command, Cancellation); }
            catch (DfException e) { ThrowTerminatingError(Record(e)); return; }
            foreach (var result in results)
            {
                done++;
                WriteObject(result);
                if (result.ToException() is DfException failure) WriteError(Record(failure));
                Progress(1, new ProgressReport(activity, $"{done} of {targets.Count} nodes; last: {result.Node.Name}", 100 * done / targets.Count));
            }
            CompleteProgress(1, activity);
        }
    }

    /// <summary>Get-DfServiceStatus: each service's state on each node (Running, Stopped, Failed, Unknown).</summary>
    [Cmdlet(VerbsCommon.Get, "DfServiceStatus")]
    [OutputType(typeof(ServiceStatusResult))]
    public sealed class GetDfServiceStatus : DfNodeCmdlet
    {
        protected override void EndProcessing()
        {
            const string activity = "Asking the nodes for their services' status";
            var plane = new ControlPlane(CreateConnector(), ThrottleLimit, Logger);
            int done = 0;
            foreach (var node in plane.GetStatus(Nodes, Cancellation))
            {
                done++;
                WriteObject(node.Services, true);
                if (node.Error != null) WriteError(Record(RemoteCommandException.For(node.Node, node.Error, RemoteCommandException.StatusFailedId)));
                Progress(1, new ProgressReport(activity, $"{done} of {Nodes.Count} nodes; last: {node.Node.Name}", 100 * done / Nodes.Count));
            }
            CompleteProgress(1, activity);
        }
    }
}
