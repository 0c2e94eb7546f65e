using System;
using System.Collections.Concurrent;
using System.IO;
using System.Management.Automation;
using System.Threading;
using System.Threading.Tasks;
using DragonflowUpgrade.Engine.Errors;
using DragonflowUpgrade.Remote;
using Microsoft.Extensions.Logging;

namespace DragonflowUpgrade.PowerShell.Cmdlets
{
    /// <summary>
    /// A cmdlet that runs one of the inventory's NeutronDatabase commands on its controller:
    /// the inventory, SSH options, and the database password for a {password} in the commands.
    /// The command's output lines reach the verbose stream as they come.
    /// </summary>
    public abstract class DfNeutronDatabaseCmdlet : DfSshCmdlet
    {
        /// <summary>The inventory (.psd1 or .json) whose NeutronDatabase table names the controller and the commands.</summary>
        [Parameter(Mandatory = true, ValueFromPipelineByPropertyName = true)]
        [ValidateNotNullOrEmpty]
        public string Inventory { get; set; } = null!; // Mandatory: bound before the cmdlet uses it.

        /// <summary>The database password: the commands get it as MYSQL_PWD, sent on their standard input (its user name is not used).</summary>
        [Parameter]
        [Credential]
        public PSCredential? DatabaseCredential { get; set; }

        // A dump or a migration of a big database takes long.
        protected DfNeutronDatabaseCmdlet() : base(commandTimeout: 3600) { }

        protected abstract void Process(NeutronDatabase db, string? password);

        protected override void ProcessRecord()
        {
            NeutronDatabase db;
            string path = SessionState.Path.GetUnresolvedProviderPathFromPSPath(Inventory);
            try
            {
                if (!File.Exists(path))
                {
                    WriteError(Record(new DfException("InventoryNotFound", DfErrorCategory.ObjectNotFound, $"The inventory {path} does not exist.", path,
                        "Give the path of the cloud's inventory file (.psd1 or .json).")));
                    return;
                }
                db = Remote.Inventory.ParseNeutronDatabase(PsdInventory.ReadAny(path), path);
            }
            catch (InventoryException e) { WriteError(Record(e)); return; }

            _options = SshOptions();
            try { Process(db, DatabaseCredential?.GetNetworkCredential().Password); }
            catch (DfException e) { WriteError(Record(e, db.Node.Name)); }
            catch (Exception e) when (e is IOException || e is UnauthorizedAccessException)
            {
                // The dump file: its folder cannot be made, the disk is full, access is denied.
                WriteError(new ErrorRecord(e, "NeutronDumpFileError", ErrorCategory.WriteError, db.Node.Name));
            }
        }

        SshOptions _options = null!; // ProcessRecord sets it before it calls Process, its only reader

        /// <summary>
        /// ShouldProcess for a command about to run on the controller: -WhatIf and -Confirm show
        /// the exact command line (the password as ***).
        /// </summary>
        protected bool ShouldRun(NeutronDatabase db, string action, string commandLine)
        {
            string description = $"{action} on {db.Node.Name} ({db.Node.Address}), running:{Environment.NewLine}    {commandLine}";
            return ShouldProcess(description, description + Environment.NewLine + "Run this command?", action);
        }

        /// <summary>
        /// Runs <paramref name="work"/> on another thread while this one writes what it logs and the
        /// command's output lines (to Verbose; warnings to Warning) as they come.
        /// </summary>
        protected T Streaming<T>(NeutronDatabase db, Func<NeutronDatabaseClient, Action<string>, T> work)
        {
            var queue = new BlockingCollection<(bool Warning, string Text)>();
            var logger = new QueueLogger(queue);
            var client = new NeutronDatabaseClient(new SshConnector(_options), logger);
            string node = db.Node.Name;
            var task = Task.Run(() =>
            {
                try { return work(client, line => queue.Add((false, $"{node}: {line}"))); }
                finally { queue.CompleteAdding(); }
            });
            foreach (var (warning, text) in queue.GetConsumingEnumerable())
                if (warning) WriteWarning(text); else WriteVerbose(text);
            return task.GetAwaiter().GetResult();
        }

        sealed class QueueLogger : ILogger
        {
            readonly BlockingCollection<(bool, string)> _queue;
            public QueueLogger(BlockingCollection<(bool, string)> queue) { _queue = queue; }
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
            public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;
            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
                _queue.Add((logLevel >= LogLevel.Warning, formatter(state, exception)));
        }
    }

    /// <summary>
    /// Backup-DfNeutronDatabase: runs the inventory's NeutronDatabase.Backup command on the
    /// controller and stores its output, streamed, in a gzip file readable by its owner only,
    /// with a .sha256 file beside it that Restore-DfNeutronDatabase checks.
    /// </summary>
    [Cmdlet(VerbsData.Backup, "DfNeutronDatabase", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
    [OutputType(typeof(NeutronDatabaseBackup))]
    public sealed class BackupDfNeutronDatabase : DfNeutronDatabaseCmdlet
    {
        /// <summary>The dump file to write (gzip; e.g. neutron.sql.gz). By default a timestamped file in ./df-backups. An existing file is refused.</summary>
        [Parameter(Position = 0)]
        [ValidateNotNullOrEmpty]
        public string? Path { get; set; }

        protected override void Process(NeutronDatabase db, string? password)
        {
            string path = Path != null ? SessionState.Path.GetUnresolvedProviderPathFromPSPath(Path)
                : NeutronDump.DefaultPath(SessionState.Path.GetUnresolvedProviderPathFromPSPath("df-backups"), db.Node.Name, DateTime.UtcNow);
            if (!ShouldRun(db, $"Back up Neutron's database to {path}", db.Backup.Shown)) return;
            WriteObject(Streaming(db, (client, line) => client.Backup(db, path, password, line, Cancellation)));
        }
    }

    /// <summary>
    /// Restore-DfNeutronDatabase: checks a dump against its .sha256 file, then streams it into
    /// the inventory's NeutronDatabase.Restore command on the controller.
    /// </summary>
    [Cmdlet(VerbsData.Restore, "DfNeutronDatabase", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
    [OutputType(typeof(NeutronDatabaseRestore))]
    public sealed class RestoreDfNeutronDatabase : DfNeutronDatabaseCmdlet
    {
        /// <summary>The dump, as Backup-DfNeutronDatabase wrote it (its .sha256 file beside it).</summary>
        [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
        [Alias("FullName")]
        [ValidateNotNullOrEmpty]
        public string Path { get; set; } = null!; // Mandatory: bound before the cmdlet uses it.

        protected override void Process(NeutronDatabase db, string? password)
        {
            string path = SessionState.Path.GetUnresolvedProviderPathFromPSPath(Path);
            if (!ShouldRun(db, $"Restore Neutron's database from {path}", $"{db.Restore.Shown} < {path}")) return;
            WriteObject(Streaming(db, (client, line) => client.Restore(db, path, password, line, Cancellation)));
        }
    }

    /// <summary>
    /// Invoke-DfNeutronMigration: runs the inventory's NeutronDatabase.Migrate command
    /// (neutron-db-manage upgrade heads, by default) on the controller, its output to the
    /// verbose stream; a non-zero exit is an error naming the node, the command, the exit code
    /// and the last lines of its error output.
    /// </summary>
    [Cmdlet(VerbsLifecycle.Invoke, "DfNeutronMigration", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
    [OutputType(typeof(NodeCommandResult))]
    public sealed class InvokeDfNeutronMigration : DfNeutronDatabaseCmdlet
    {
        protected override void Process(NeutronDatabase db, string? password)
        {
            if (!ShouldRun(db, "Migrate Neutron's database", db.Migrate.Shown)) return;
            WriteObject(Streaming(db, (client, line) => client.Migrate(db, password, line, Cancellation)));
        }
    }
}
