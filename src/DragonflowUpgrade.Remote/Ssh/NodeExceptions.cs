using System;

namespace DragonflowUpgrade.Remote
{
    /// <summary>A node could not be reached or logged into.</summary>
    public class NodeConnectionException : Exception
    {
        public NodeConnectionException(DfNode node, string message, Exception inner = null) : base(message, inner) { Node = node; }
        public DfNode Node { get; }
    }

    /// <summary>A node's host key is not trusted: unknown (without accept-new), changed, or revoked.</summary>
    public sealed class HostKeyRejectedException : NodeConnectionException
    {
        public HostKeyRejectedException(DfNode node, string message, Exception inner = null) : base(node, message, inner) { }
    }
}

namespace DragonflowUpgrade.Remote
{
    /// <summary>A remote command ran and failed (non-zero exit, time-out, signal).</summary>
    public sealed class RemoteCommandException : Exception
    {
        public RemoteCommandException(string message) : base(message) { }
    }
}
