using DragonflowUpgrade.Engine;
using System;
using System.Management.Automation;
using DragonflowUpgrade.Engine.Errors;
using DragonflowUpgrade.Engine.Migrations;
using DragonflowUpgrade.Engine.Store;

namespace DragonflowUpgrade.PowerShell
{
    /// <summary>What every cmdlet of the module shares: error records with stable ids, progress.</summary>
    public abstract class DfCmdlet : PSCmdlet
    {
        CmdletLogger? _logger;
        protected CmdletLogger Logger => _logger ?? (_logger = new CmdletLogger(this));

        /// <summary>
        /// Whether <paramref name="e"/> is a failure the module reports as an error record (see
        /// <see cref="ErrorFor"/>): the engine's own errors, and a file that cannot be read or written.
        /// Anything else is a defect, left to PowerShell to show with its stack.
        /// </summary>
        public static bool IsReported(Exception e) =>
            e is DfException || e is FormatException || e is System.IO.IOException || e is UnauthorizedAccessException;

        /// <summary>
        /// The one mapping from an exception to its error record. An engine <see cref="DfException"/>
        /// brings its own id, category, (redacted) target and recommended action, the same in every
        /// cmdlet; a file that cannot be read or written is <c>FileAccessFailed</c>.
        /// </summary>
        public static ErrorRecord ErrorFor(Exception e, object? target = null)
        {
            switch (e)
            {
                case DfException df: return Record(df, target);
                // A stored value that does not parse (the snapshot's parse errors are not DfExceptions yet).
                case FormatException _: return new ErrorRecord(e, "NbObjectMalformed", ErrorCategory.InvalidData, target);
                case System.IO.IOException _:
                case UnauthorizedAccessException _: return new ErrorRecord(e, "FileAccessFailed", ErrorCategory.WriteError, target);
                default: return new ErrorRecord(e, "UnexpectedError", ErrorCategory.NotSpecified, target);
            }
        }

        /// <summary>
        /// <see cref="ErrorFor"/>, with <paramref name="errorId"/> for an exception that is not the
        /// engine's. Kept for the cmdlets that still name an id per catch; new code calls <see cref="ErrorFor"/>.
        /// </summary>
        protected static ErrorRecord Error(Exception e, string errorId, object? target) =>
            e is DfException df ? Record(df, target)
            : new ErrorRecord(e, errorId, e is ArgumentException ? ErrorCategory.InvalidArgument : ErrorFor(e).CategoryInfo.Category, target);

        /// <summary>The error record for an engine error: its id, category, target (else <paramref name="target"/>) and recommended action.</summary>
        public static ErrorRecord Record(DfException e, object? target = null)
        {
            if (!Enum.TryParse(e.Category.ToString(), out ErrorCategory category)) category = ErrorCategory.NotSpecified;
            var record = new ErrorRecord(e, e.ErrorId, category, e.TargetObject ?? target);
            if (e.RecommendedAction != null) record.ErrorDetails = new ErrorDetails(e.Message) { RecommendedAction = e.RecommendedAction };
            return record;
        }

        /// <summary>The error record of an error the module reports (<see cref="ErrorFor"/>); null for any other exception (a bug), which goes up as it is.</summary>
        protected static ErrorRecord? Record(Exception e, object? target) => IsReported(e) ? ErrorFor(e, target) : null;

        /// <summary>How a writing cmdlet passes the guard: its name as the lock's purpose, its -WhatIf (no lock, nothing written), its own -Force, -ServiceDownTime and -IgnoreLiveControlPlane.</summary>
        protected Engine.Run.GuardOptions WriteGuard(bool force, int serviceDownTimeSeconds, bool ignoreLiveControlPlane) =>
            new Engine.Run.GuardOptions(MyInvocation.MyCommand.Name, Cmdlets.Safety.SafetyErrors.IsWhatIf(this), force, TimeSpan.FromSeconds(serviceDownTimeSeconds), ignoreLiveControlPlane);

        protected void Progress(int activityId, ProgressReport p)
        {
            var record = new ProgressRecord(activityId, p.Activity, string.IsNullOrEmpty(p.Status) ? p.Activity : p.Status);
            if (p.Percent >= 0) record.PercentComplete = Math.Min(100, p.Percent);
            WriteProgress(record);
        }

        protected void CompleteProgress(int activityId, string activity)
        {
            WriteProgress(new ProgressRecord(activityId, activity, "Done") { RecordType = ProgressRecordType.Completed });
        }

        string? _database, _typed;

        /// <summary>
        /// The one implementation of every cmdlet's <c>-Database</c> property: it keeps the redacted
        /// form (all that is printed or output) and what was typed (see <see cref="DatabaseSecrets"/>).
        /// Set back to its redacted form, it keeps what was typed, which may not parse and then is not remembered.
        /// </summary>
        protected string? DatabaseValue
        {
            get => _database;
            set { if (value != _database) _typed = value; _database = DatabaseSecrets.Remember(value); }
        }

        /// <summary>
        /// Opens the NB database of <see cref="DatabaseValue"/> (as typed, or the database this runspace
        /// has seen typed with that redacted form), resolving a relative file path against the current
        /// location; <paramref name="credential"/> replaces the URI's user and password. A database
        /// that cannot be opened stops the cmdlet, with an error that names only the redacted form.
        /// </summary>
        protected INbStore OpenDatabase(PSCredential? credential = null)
        {
            try { return TryOpenDatabase(credential); }
            catch (DfException e) { ThrowTerminatingError(Record(e, _database)); return null!; } // ThrowTerminatingError has thrown
        }

        /// <summary><see cref="OpenDatabase"/>, throwing the engine's error instead of stopping the cmdlet.</summary>
        protected INbStore TryOpenDatabase(PSCredential? credential = null)
        {
            // The bound value is what $Error[0].InvocationInfo shows: keep the redacted form there too.
            if (MyInvocation.BoundParameters.ContainsKey("Database")) MyInvocation.BoundParameters["Database"] = _database;
            // No -Database (an optional one not given) is the factory's own "No NB database given".
            return NbStoreFactory.Open(_typed == null ? "" : DatabaseSecrets.Recall(_typed), credential?.UserName, credential?.GetNetworkCredential().Password,
                                       SessionState.Path.GetUnresolvedProviderPathFromPSPath);
        }

        /// <summary>
        /// Opens the database of this pipeline record and runs <paramref name="work"/> on it. A
        /// failure of this database (it cannot be opened, read or written) is one non-terminating
        /// error whose target is its redacted form, and the cmdlet goes on with the next record.
        /// </summary>
        protected void OnDatabase(Action<INbStore> work, PSCredential? credential = null)
        {
            try
            {
                using (var store = TryOpenDatabase(credential)) work(store);
            }
            catch (Exception e) when (IsReported(e)) { WriteError(ErrorFor(e, _database)); }
        }

        /// <summary>Reports progress synchronously, on the pipeline thread that called the library.</summary>
        protected sealed class SyncProgress<T> : IProgress<T>
        {
            readonly Action<T> _report;
            public SyncProgress(Action<T> report) { _report = report; }
            public void Report(T value) => _report(value);
        }
    }

    /// <summary>A cmdlet that works on one NB database, named by <c>-Database</c>.</summary>
    public abstract class DfDatabaseCmdlet : DfCmdlet
    {
        /// <summary>
        /// The NB database: <c>redis://[user:password@]host:port[/db]</c> (<c>rediss://</c> over TLS),
        /// <c>redis-cluster://[user:password@]host:port[,host:port…]</c> (<c>rediss-cluster://</c>),
        /// <c>etcd://[user:password@]host:port[,host:port…]</c> (<c>etcds://</c>), or a path ending in .jsonl or .jsonl.gz.
        /// </summary>
        /// <remarks>Kept in its redacted form: a password typed in it is never printed or output.</remarks>
        // -Database is declared once per attribute set, each on DatabaseValue with this doc: here (required, from
        // the pipeline by property name), DfControlPlaneCmdlet (optional), Get-DfSchema (required in its Database
        // set only) and DfUpgradeCmdlet (required, not from the pipeline, which carries its nodes). PowerShell takes
        // a parameter's attributes from its most derived declaration alone, so a class cannot narrow an inherited
        // -Database without declaring it whole again; and these classes share no base but DfCmdlet, where a
        // declaration would give every cmdlet a -Database.
        [Parameter(Mandatory = true, ValueFromPipelineByPropertyName = true)]
        [ValidateNotNullOrEmpty]
        public string Database { get => DatabaseValue!; set => DatabaseValue = value; } // Mandatory: bound before the cmdlet uses it.

        /// <summary>The user and password of the database, in place of any in <see cref="Database"/> (for Redis without ACL users, the user name default).</summary>
        [Parameter]
        [Credential]
        public PSCredential? Credential { get; set; }

        /// <summary>Opens <see cref="Database"/> as given; see <see cref="DfCmdlet.OpenDatabase"/>.</summary>
        protected INbStore OpenStore() => OpenDatabase(Credential);

        /// <summary>Runs <paramref name="work"/> on <see cref="Database"/>; its failure is one non-terminating error (see <see cref="DfCmdlet.OnDatabase"/>).</summary>
        protected void OnStore(Action<INbStore> work) => OnDatabase(work, Credential);
    }
}
