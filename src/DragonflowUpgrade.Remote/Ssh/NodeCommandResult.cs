using System;
using System.Diagnostics.CodeAnalysis;

namespace DragonflowUpgrade.Remote
{
    /// <summary>What one command did on one node.</summary>
    public sealed class NodeCommandResult
    {
        public NodeCommandResult(DfNode node, string command, int? exitCode, string output, string error, TimeSpan duration, string? failure)
        {
            Node = node;
            Command = command;
            ExitCode = exitCode;
            Output = output;
            Error = error;
            Duration = duration;
            Failure = failure;
        }

        public DfNode Node { get; }
        public string Command { get; }
        /// <summary>The command's exit status; null when it never exited on its own (unreachable node, time-out, signal).</summary>
        public int? ExitCode { get; }
        public string Output { get; }
        public string Error { get; }
        public TimeSpan Duration { get; }
        /// <summary>Why the command failed, fit for an error message; null when it exited 0.</summary>
        public string? Failure { get; }
        [MemberNotNullWhen(false, nameof(Failure))]
        public bool Succeeded => Failure == null;
        /// <summary>Why the node could not be reached (a <see cref="NodeConnectionException"/>, mostly); null when it was.</summary>
        public Exception? ConnectionError { get; private set; }

        /// <summary>Why the command failed, as the error to report for this node; null when it succeeded.</summary>
        public Engine.Errors.DfException? ToException() =>
            Succeeded ? null
            : ConnectionError != null ? RemoteCommandException.For(Node, ConnectionError, RemoteCommandException.CommandFailedId)
            : new RemoteCommandException(RemoteCommandException.CommandFailedId, Node, Failure!); // not Succeeded: Failure is set

        internal static NodeCommandResult Unreachable(DfNode node, string command, Exception e, TimeSpan duration) =>
            new NodeCommandResult(node, command, null, "", e.Message, duration, e.Message) { ConnectionError = e };
    }
}
