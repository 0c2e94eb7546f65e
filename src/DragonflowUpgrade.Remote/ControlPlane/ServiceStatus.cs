using System.Collections.Generic;

namespace DragonflowUpgrade.Remote
{
    public enum ServiceState { Running, Stopped, Failed, Unknown }

    /// <summary>The state of one service on one node.</summary>
    public sealed class ServiceStatusResult
    {
        public ServiceStatusResult(DfNode node, NodeService service, ServiceState status, int? exitCode, string detail)
        {
            Node = node;
            Service = service;
            Status = status;
            ExitCode = exitCode;
            Detail = detail;
        }

        public DfNode Node { get; }
        public NodeService Service { get; }
        public ServiceState Status { get; }
        /// <summary>The status command's exit code; null when it did not run.</summary>
        public int? ExitCode { get; }
        /// <summary>What the status command printed, or why it did not run.</summary>
        public string Detail { get; }

        /// <summary>
        /// Reads a status command's result: systemctl is-active's words (active, inactive, failed)
        /// first, else the LSB status exit codes (0 running, 1-2 dead, 3 not running).
        /// </summary>
        public static ServiceState Classify(NodeCommandResult r)
        {
            if (r.ExitCode == null) return ServiceState.Unknown;
            string word = (r.Output ?? "").Trim().Split('\n')[0].Trim();
            switch (word)
            {
                case "active": return ServiceState.Running;
                case "inactive": return ServiceState.Stopped;
                case "failed": return ServiceState.Failed;
                case "activating":
                case "deactivating":
                case "reloading": return ServiceState.Unknown;
            }
            switch (r.ExitCode.Value)
            {
                case 0: return ServiceState.Running;
                case 1:
                case 2: return ServiceState.Failed;
                case 3: return ServiceState.Stopped;
                default: return ServiceState.Unknown;
            }
        }
    }

    /// <summary>The statuses of one node's services, and why they are Unknown if the node could not be asked.</summary>
    public sealed class NodeStatus
    {
        public NodeStatus(DfNode node, IReadOnlyList<ServiceStatusResult> services, System.Exception? error)
        {
            Node = node;
            Services = services;
            Error = error;
        }

        public DfNode Node { get; }
        public IReadOnlyList<ServiceStatusResult> Services { get; }
        /// <summary>Why the node could not be asked; null when it answered.</summary>
        public System.Exception? Error { get; }
    }
}
