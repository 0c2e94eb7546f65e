using System;
using System.Collections.Generic;
using System.Linq;

namespace DragonflowUpgrade.Remote
{
    public enum ControlPlaneAction { Stop, Start }

    /// <summary>What stopping or starting one service did.</summary>
    public sealed class ServiceActionResult
    {
        public ServiceActionResult(NodeService service, NodeCommandResult result)
        {
            Service = service;
            Result = result;
        }

        public NodeService Service { get; }
        public NodeCommandResult Result { get; }
        public bool Succeeded => Result.Succeeded;
        public override string ToString() => Succeeded ? Service.Name : Service.Name + " (failed)";
    }

    /// <summary>What stopping or starting the control plane did on one node.</summary>
    public sealed class ControlPlaneNodeResult
    {
        public ControlPlaneNodeResult(DfNode node, ControlPlaneAction action, IReadOnlyList<ServiceActionResult> services, IReadOnlyList<string> failures, TimeSpan duration,
                                      Exception? connectionError = null)
        {
            _connectionError = connectionError;
            Node = node;
            Action = action;
            Services = services;
            Failures = failures;
            Duration = duration;
        }

        public DfNode Node { get; }
        public ControlPlaneAction Action { get; }
        /// <summary>Each service acted on, in the order it was.</summary>
        public IReadOnlyList<ServiceActionResult> Services { get; }
        /// <summary>Why the node failed: one line per failed service, or the connection failure.</summary>
        public IReadOnlyList<string> Failures { get; }
        public TimeSpan Duration { get; }
        public bool Succeeded => Failures.Count == 0;
        public string? Error => Failures.Count == 0 ? null : string.Join("; ", Failures);

        readonly Exception? _connectionError;

        /// <summary>
        /// Why the node failed, as the error to report for it: unreachable (or its host key
        /// refused), else a failed stop or start naming each service; null when it succeeded.
        /// </summary>
        public Engine.Errors.DfException? ToException() =>
            Succeeded ? null
            : _connectionError != null ? RemoteCommandException.For(Node, _connectionError, FailedId)
            : new RemoteCommandException(FailedId, Node, Error!); // each failure names the node already

        string FailedId => Action == ControlPlaneAction.Stop ? RemoteCommandException.StopFailedId : RemoteCommandException.StartFailedId;
    }

    /// <summary>The nodes' results, and what the NB heartbeats showed afterwards.</summary>
    public sealed class ControlPlaneOutcome
    {
        public ControlPlaneOutcome(ControlPlaneAction action, IReadOnlyList<ControlPlaneNodeResult> nodes, IReadOnlyList<Heartbeat> heartbeatsAtFault, string? heartbeatFailure)
        {
            Action = action;
            Nodes = nodes;
            HeartbeatsAtFault = heartbeatsAtFault;
            HeartbeatFailure = heartbeatFailure;
        }

        public ControlPlaneAction Action { get; }
        public IReadOnlyList<ControlPlaneNodeResult> Nodes { get; }
        /// <summary>After a stop, the rows still alive; after a start, the services without a fresh heartbeat.</summary>
        public IReadOnlyList<Heartbeat> HeartbeatsAtFault { get; }
        /// <summary>Why the heartbeat check failed; null when it passed or was not asked for.</summary>
        public string? HeartbeatFailure { get; }
        public IReadOnlyList<ControlPlaneNodeResult> FailedNodes => Nodes.Where(n => !n.Succeeded).ToList();
        public bool Succeeded => HeartbeatFailure == null && Nodes.All(n => n.Succeeded);
    }

    /// <summary>What the NB heartbeat check after a stop or start watches, and for how long.</summary>
    public sealed class HeartbeatCheck
    {
        public HeartbeatCheck(Engine.Store.INbStore store) { Store = store; }

        public Engine.Store.INbStore Store { get; }
        /// <summary>A row whose last heartbeat is older than this is down (Dragonflow's service_down_time).</summary>
        public TimeSpan DownTime { get; set; } = Heartbeats.DefaultDownTime;
        /// <summary>How long to wait for the heartbeats to stop (after a stop) or to come (after a start).</summary>
        public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(120);
        /// <summary>How often the tables are read while waiting.</summary>
        public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(1);
    }
}
