using System;

namespace DragonflowUpgrade.Engine.Errors
{
    /// <summary>What kind of failure an engine error is; the cmdlets map it to PowerShell's ErrorCategory of the same name.</summary>
    public enum DfErrorCategory
    {
        NotSpecified,
        InvalidArgument,
        InvalidData,
        InvalidOperation,
        ObjectNotFound,
        ResourceBusy,
        ResourceUnavailable,
        ConnectionError,
        ReadError,
        WriteError,
        SecurityError,
        InvalidResult,
        ResourceExists,
    }

    /// <summary>
    /// The base of the engine's own errors: a stable error id, a category, the object concerned
    /// (already redacted: fit to print) and what the operator should do about it. The message
    /// says what went wrong and where; <see cref="RecommendedAction"/> says what to do, so that
    /// the message need not name a cmdlet.
    /// </summary>
    public class DfException : Exception
    {
        public DfException(string errorId, DfErrorCategory category, string message, string? target = null,
                           string? recommendedAction = null, Exception? inner = null)
            : base(message, inner)
        {
            ErrorId = errorId ?? throw new ArgumentNullException(nameof(errorId));
            Category = category;
            Target = target;
            RecommendedAction = recommendedAction;
        }

        /// <summary>A stable id, the same for the same condition in every cmdlet (e.g. <c>NbObjectMalformed</c>).</summary>
        public string ErrorId { get; }

        public DfErrorCategory Category { get; }

        /// <summary>The database, file, key, node or migration concerned, fit to print: never a password.</summary>
        public string? Target { get; }

        /// <summary>What an error record names as its target: <see cref="Target"/>, or an object fit to pipe on (a node).</summary>
        public virtual object? TargetObject => Target;

        /// <summary>What to do about it, or null.</summary>
        public string? RecommendedAction { get; }
    }
}
