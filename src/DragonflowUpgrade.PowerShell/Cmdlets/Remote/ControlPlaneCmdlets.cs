using DragonflowUpgrade.Engine;
using System;
using System.Linq;
using System.Management.Automation;
using DragonflowUpgrade.Engine.Errors;
using DragonflowUpgrade.Engine.Store;
using DragonflowUpgrade.Remote;

namespace DragonflowUpgrade.PowerShell.Cmdlets
{
    /// <summary>What Stop- and Start-DfControlPlane share: the optional NB database whose heartbeats confirm the work.</summary>
    public abstract class DfControlPlaneCmdlet : DfNodeCmdlet
    {
        /// <summary>The NB database (redis://host:port[/db] or a .jsonl path): given, its heartbeats are checked afterwards.</summary>
        [Parameter(ValueFromPipelineByPropertyName = true)]
        [ValidateNotNullOrEmpty]
        public string Database { get => DatabaseValue; set => DatabaseValue = value; }

        /// <summary>Seconds after its last heartbeat that a service counts as down (Dragonflow's service_down_time).</summary>
        [Parameter]
        [ValidateRange(1, 3600)]
        public int ServiceDownTime { get; set; } = (int)Heartbeats.DefaultDownTime.TotalSeconds;

        /// <summary>Seconds to wait for the heartbeats to stop (Stop) or come (Start).</summary>
        [Parameter]
        [ValidateRange(1, 86400)]
        public int HeartbeatTimeout { get; set; } = 120;

        protected void Run(ControlPlaneAction action)
        {
            string verb = action == ControlPlaneAction.Stop ? "Stop" : "Start";
            var targets = Nodes.Where(n =>
            {
                var services = Ordered(n, action).ToList();
                return ShouldRun(n, $"{verb} {string.Join(", ", services.Select(s => s.Name))}",
                    services.Select(s => action == ControlPlaneAction.Stop ? s.StopCommand : s.StartCommand));
            }).ToList();
            if (targets.Count == 0) return;

            using (var store = Database == null ? null : OpenDatabase())
            {
                var check = store == null ? null : new HeartbeatCheck(store)
                {
                    DownTime = TimeSpan.FromSeconds(ServiceDownTime),
                    Timeout = TimeSpan.FromSeconds(HeartbeatTimeout),
                };
                var plane = new ControlPlane(CreateConnector(), ThrottleLimit, Logger);
                var progress = new SyncProgress<ProgressReport>(p => Progress(1, p));
                ControlPlaneOutcome outcome = null;
                try
                {
                    outcome = action == ControlPlaneAction.Stop
                        ? plane.Stop(targets, check, progress, Cancellation)
                        : plane.Start(targets, check, progress, Cancellation);
                }
                catch (DfException e) { ThrowTerminatingError(Record(e)); }
                CompleteProgress(1, verb + " the control plane");

                foreach (var node in outcome.Nodes)
                {
                    WriteObject(node);
                    if (!node.Succeeded)
                        WriteError(new ErrorRecord(new RemoteCommandException(node.Error), $"Node{verb}Failed", ErrorCategory.InvalidResult, node.Node));
                }
                var failed = outcome.FailedNodes;
                if (failed.Count > 0)
                {
                    string message = $"{(action == ControlPlaneAction.Stop ? "Stopping" : "Starting")} the control plane failed on {failed.Count} of {outcome.Nodes.Count} node(s): " +
                        string.Join(", ", failed.Select(n => n.Node.Name)) + ". " + string.Join(" ", failed.Select(n => n.Error));
                    ThrowTerminatingError(new ErrorRecord(new InvalidOperationException(message), $"ControlPlane{verb}Failed", ErrorCategory.InvalidResult, failed.Select(n => n.Node).ToArray()));
                }
                if (outcome.HeartbeatFailure != null)
                    ThrowTerminatingError(new ErrorRecord(new InvalidOperationException(outcome.HeartbeatFailure), "HeartbeatCheckFailed", ErrorCategory.InvalidResult, Database));
            }
        }

        static System.Collections.Generic.IEnumerable<NodeService> Ordered(DfNode node, ControlPlaneAction action) =>
            action == ControlPlaneAction.Stop
                ? node.ServicesOf(ServiceKind.Neutron).Reverse().Concat(node.ServicesOf(ServiceKind.Dragonflow).Reverse())
                : node.ServicesOf(ServiceKind.Dragonflow).Concat(node.ServicesOf(ServiceKind.Neutron));
    }

    /// <summary>
    /// Stops the control plane: the Neutron servers on every node first, then every Dragonflow
    /// service; with -Database, then waits until no NB service, listener or publisher row has a
    /// live heartbeat. Fails, after every node is done, if any node did not stop.
    /// </summary>
    [Cmdlet(VerbsLifecycle.Stop, "DfControlPlane", SupportsShouldProcess = true)]
    [OutputType(typeof(ControlPlaneNodeResult))]
    public sealed class StopDfControlPlane : DfControlPlaneCmdlet
    {
        protected override void EndProcessing() => Run(ControlPlaneAction.Stop);
    }

    /// <summary>
    /// Starts the control plane: the Dragonflow services on every node first; with -Database,
    /// waits until each has written a fresh heartbeat in the NB service table; then the Neutron
    /// servers. Fails, after every node is done, if any node did not start.
    /// </summary>
    [Cmdlet(VerbsLifecycle.Start, "DfControlPlane", SupportsShouldProcess = true)]
    [OutputType(typeof(ControlPlaneNodeResult))]
    public sealed class StartDfControlPlane : DfControlPlaneCmdlet
    {
        protected override void EndProcessing() => Run(ControlPlaneAction.Start);
    }
}
