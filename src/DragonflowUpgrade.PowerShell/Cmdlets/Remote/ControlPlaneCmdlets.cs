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
        /// <inheritdoc cref="DfDatabaseCmdlet.Database"/>
        /// <remarks>Given, its heartbeats are checked afterwards.</remarks>
        // Optional here; why -Database is declared apart: see DfDatabaseCmdlet.Database.
        [Parameter(ValueFromPipelineByPropertyName = true)]
        [ValidateNotNullOrEmpty]
        public string? Database { get => DatabaseValue; set => DatabaseValue = value; }

        /// <summary>Seconds to wait for the heartbeats to stop (Stop) or come (Start).</summary>
        [Parameter]
        [ValidateRange(1, 86400)]
        public int HeartbeatTimeout { get; set; } = 120;

        /// <summary>Seconds after its last heartbeat that a row counts as down; only a stop has to tell.</summary>
        protected virtual TimeSpan DownTime => Heartbeats.DefaultDownTime;

        /// <summary>
        /// Stops or starts every node given: one result per node, one non-terminating error per
        /// node that failed, and one for the heartbeat check. Terminates only when nothing can
        /// begin (the database cannot be opened, an identity file is missing): then no node was touched.
        /// </summary>
        protected void Run(ControlPlaneAction action)
        {
            string verb = action == ControlPlaneAction.Stop ? "Stop" : "Start";
            var targets = Nodes.Where(n =>
            {
                var services = ControlPlane.InOrder(n, action).ToList();
                return ShouldRun(n, $"{verb} {string.Join(", ", services.Select(s => s.Name))}",
                    services.Select(s => action == ControlPlaneAction.Stop ? s.StopCommand : s.StartCommand));
            }).ToList();
            if (targets.Count == 0) return;

            using (var store = Database == null ? null : OpenDatabase())
            {
                var check = store == null ? null : new HeartbeatCheck(store)
                {
                    DownTime = DownTime,
                    Timeout = TimeSpan.FromSeconds(HeartbeatTimeout),
                };
                var plane = new ControlPlane(CreateConnector(), ThrottleLimit, Logger);
                var progress = new SyncProgress<ProgressReport>(p => Progress(1, p));
                ControlPlaneOutcome outcome;
                try
                {
                    outcome = action == ControlPlaneAction.Stop
                        ? plane.Stop(targets, check, progress, Cancellation)
                        : plane.Start(targets, check, progress, Cancellation);
                }
                catch (Exception e) when (IsReported(e)) { ThrowTerminatingError(ErrorFor(e)); return; }
                CompleteProgress(1, verb + " the control plane");

                foreach (var node in outcome.Nodes)
                {
                    WriteObject(node);
                    if (node.ToException() is DfException failure) WriteError(Record(failure));
                }
                if (outcome.HeartbeatFailure != null)
                    WriteError(Record(new DfException("HeartbeatCheckFailed", DfErrorCategory.InvalidResult, outcome.HeartbeatFailure, Database,
                        "Find what still runs (or did not start) on the nodes the message names, then run the command again.")));
            }
        }
    }

    /// <summary>
    /// Stops the control plane: the Neutron servers on every node first, then every Dragonflow
    /// service; with -Database, then waits until no NB service, listener or publisher row has a
    /// live heartbeat. A node that does not stop gets an error of its own; the others are stopped all the same.
    /// </summary>
    [Cmdlet(VerbsLifecycle.Stop, "DfControlPlane", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
    [OutputType(typeof(ControlPlaneNodeResult))]
    public sealed class StopDfControlPlane : DfControlPlaneCmdlet
    {
        /// <summary>Seconds after its last heartbeat that a row counts as down (Dragonflow's service_down_time).</summary>
        [Parameter]
        [ValidateRange(1, 3600)]
        public int ServiceDownTime { get; set; } = (int)Heartbeats.DefaultDownTime.TotalSeconds;

        protected override TimeSpan DownTime => TimeSpan.FromSeconds(ServiceDownTime);

        protected override void EndProcessing() => Run(ControlPlaneAction.Stop);
    }

    /// <summary>
    /// Starts the control plane: the Dragonflow services on every node first; with -Database,
    /// waits until each has written a fresh heartbeat in the NB service table; then the Neutron
    /// servers. A node that does not start gets an error of its own; the others are started all the same.
    /// </summary>
    [Cmdlet(VerbsLifecycle.Start, "DfControlPlane", SupportsShouldProcess = true)]
    [OutputType(typeof(ControlPlaneNodeResult))]
    public sealed class StartDfControlPlane : DfControlPlaneCmdlet
    {
        protected override void EndProcessing() => Run(ControlPlaneAction.Start);
    }
}
