using System;
using DragonflowUpgrade.Engine.Errors;

namespace DragonflowUpgrade.Remote
{
    /// <summary>A node could not be reached or logged into.</summary>
    public class NodeConnectionException : DfException
    {
        public NodeConnectionException(DfNode? node, string message, Exception? inner = null)
            : this("NodeUnreachable", DfErrorCategory.ConnectionError, node, message,
                   "Check that the node is up and its SSH port reachable, and the inventory's address, user and identity file.", inner) { }

        protected NodeConnectionException(string errorId, DfErrorCategory category, DfNode? node, string message, string recommendedAction, Exception? inner)
            : base(errorId, category, message, node?.Name, recommendedAction, inner)
        {
            Node = node;
        }

        public DfNode? Node { get; }

        /// <summary>The node itself, so that an error record's target can be piped on.</summary>
        public override object? TargetObject => Node;
    }

    /// <summary>A node's host key is not trusted: unknown (without accept-new), changed, or revoked.</summary>
    public sealed class HostKeyRejectedException : NodeConnectionException
    {
        public HostKeyRejectedException(DfNode? node, string message, Exception? inner = null)
            : base("HostKeyRejected", DfErrorCategory.SecurityError, node, message,
                   "Check the node's host key with its administrator; if it changed on purpose, remove its old line from known_hosts.", inner) { }
    }

    /// <summary>
    /// Work on a reachable node failed: a command exited non-zero, timed out or was killed. The id
    /// says which work: <see cref="CommandFailedId"/>, <see cref="StopFailedId"/>, <see cref="StartFailedId"/>, <see cref="StatusFailedId"/>.
    /// </summary>
    public sealed class RemoteCommandException : DfException
    {
        public const string CommandFailedId = "NodeCommandFailed", StopFailedId = "NodeStopFailed",
                            StartFailedId = "NodeStartFailed", StatusFailedId = "NodeStatusFailed";

        public RemoteCommandException(string errorId, DfNode? node, string message, Exception? inner = null)
            : base(errorId, DfErrorCategory.InvalidResult, message, node?.Name,
                   "Look at the node's service logs, fix what the message names, then run the command again for that node.", inner)
        {
            Node = node;
        }

        public DfNode? Node { get; }

        public override object? TargetObject => Node;

        /// <summary>The error to report for a node's failure: its own when it is the module's, else one with <paramref name="errorId"/>.</summary>
        public static DfException For(DfNode node, Exception e, string errorId) =>
            e as DfException ?? new RemoteCommandException(errorId, node, e.Message, e);
    }
}
