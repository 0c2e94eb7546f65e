using System;
using System.IO;
using System.Linq;
using System.Management.Automation;
using System.Text;
using System.Text.RegularExpressions;
using DragonflowUpgrade.Engine.Migrations;

namespace DragonflowUpgrade.PowerShell.Cmdlets
{
    /// <summary>Writes a .ps1 migration skeleton, proposed now, into a migration folder.</summary>
    [Cmdlet(VerbsCommon.New, "DfMigration", SupportsShouldProcess = true)]
    [OutputType(typeof(FileInfo))]
    public sealed class NewDfMigration : DfCmdlet
    {
        /// <summary>The migration folder (created if missing).</summary>
        [Parameter(Mandatory = true)]
        [ValidateNotNullOrEmpty]
        public string Path { get; set; } = null!; // Mandatory: bound before the cmdlet uses it.

        [Parameter(Mandatory = true)]
        [ValidatePattern(Engine.Migrations.Migration.IdPattern)]
        public string Id { get; set; } = null!; // Mandatory: bound before the cmdlet uses it.

        [Parameter(Mandatory = true)]
        [ValidateNotNullOrEmpty]
        [ArgumentCompleter(typeof(ReleaseCompleter))]
        public string Release { get; set; } = null!; // Mandatory: bound before the cmdlet uses it.

        [Parameter(Mandatory = true)]
        [ValidateNotNullOrEmpty]
        public string Description { get; set; } = null!; // Mandatory: bound before the cmdlet uses it.

        /// <summary>The schema changes the migration takes care of, e.g. 'lswitch.subnets:FieldRemoved'.</summary>
        [Parameter]
        public string[]? Handles { get; set; }

        protected override void ProcessRecord()
        {
            var now = DateTimeOffset.UtcNow;
            string dir = SessionState.Path.GetUnresolvedProviderPathFromPSPath(Path);
            string file = System.IO.Path.Combine(dir, $"{now:yyyyMMddHHmmss}_{Id}.ps1");
            if (!ShouldProcess(file, "Create migration skeleton")) return;
            if (Directory.Exists(dir) && Directory.GetFiles(dir, "*_" + Id + ".ps1").Any())
            {
                WriteError(Record(new Engine.Errors.DfException("MigrationExists", Engine.Errors.DfErrorCategory.ResourceExists,
                    $"A migration file for '{Id}' already exists in '{dir}'.", Id, "Choose another -Id, or edit the file that exists.")));
                return;
            }
            Directory.CreateDirectory(dir);
            File.WriteAllText(file, Skeleton(now), new UTF8Encoding(false));
            WriteObject(new FileInfo(file));
        }

        static string Quote(string s) => "'" + s.Replace("'", "''") + "'";

        string Skeleton(DateTimeOffset now)
        {
            string handles = Handles == null || Handles.Length == 0 ? "@()" : "@(" + string.Join(", ", Handles.Select(Quote)) + ")";
            return
$@"# Migration of the Dragonflow NB database. Runs once, in ProposedAt order, on an in-memory copy
# of the database; if it throws, nothing is written.
@{{
    Id          = {Quote(Id)}
    Release     = {Quote(Release)}
    Description = {Quote(Description)}
    ProposedAt  = '{Migration.FormatUtc(now)}'
    # Schema changes this migration takes care of: 'table.field:FieldRemoved', 'table:TableRemoved', ...
    Handles     = {handles}
    Apply       = {{
        param($NbApi)
        # $NbApi.GetAll('lport'), .Get(table, id), .Create(table, @{{ id = ... }}), .Update(table, $obj), .Delete(table, id), .Tables
        foreach ($obj in $NbApi.GetAll('lport')) {{
            # change $obj here, then:
            # $NbApi.Update('lport', $obj)
        }}
    }}
}}
";
        }
    }
}
