using System;
using System.IO;
using System.Linq;
using System.Management.Automation;
using DragonflowUpgrade.Dragonflow;
using DragonflowUpgrade.Engine.Migrations;
using DragonflowUpgrade.Engine.Schema;
using DragonflowUpgrade.Engine.Store;
using DragonflowUpgrade.PowerShell.Output;

namespace DragonflowUpgrade.PowerShell.Cmdlets
{
    /// <summary>Resolves a -Reference/-Difference/-Baseline/-Current value: a release name or a manifest path.</summary>
    static class Schemas
    {
        public static SchemaManifest Resolve(PSCmdlet cmdlet, string releaseOrPath)
        {
            if (releaseOrPath.EndsWith(".json", StringComparison.OrdinalIgnoreCase))
                return SchemaManifest.Load(cmdlet.SessionState.Path.GetUnresolvedProviderPathFromPSPath(releaseOrPath));
            return DragonflowReleases.Schema(releaseOrPath)
                ?? throw new SchemaException($"No schema for release '{releaseOrPath}': the module has {string.Join(", ", DragonflowReleases.All)}; or give a manifest's path (*.json).",
                                             SchemaException.NotFoundId, releaseOrPath);
        }
    }

    /// <summary>A release's NB schema, one object per field: of a named release, or of the release a database is recorded at.</summary>
    [Cmdlet(VerbsCommon.Get, "DfSchema", DefaultParameterSetName = "Release")]
    [OutputType(typeof(DfSchemaField))]
    public sealed class GetDfSchema : DfCmdlet
    {
        [Parameter(Mandatory = true, Position = 0, ParameterSetName = "Release")]
        [ArgumentCompleter(typeof(ReleaseCompleter))]
        public string? Release { get; set; }

        /// <inheritdoc cref="DfDatabaseCmdlet.Database"/>
        // Required in one parameter set only; why -Database is declared apart: see DfDatabaseCmdlet.Database.
        [Parameter(Mandatory = true, ParameterSetName = "Database", ValueFromPipelineByPropertyName = true)]
        [ValidateNotNullOrEmpty]
        public string? Database { get => DatabaseValue; set => DatabaseValue = value; }

        [Parameter]
        [ArgumentCompleter(typeof(TableCompleter))]
        public string[]? Table { get; set; }

        protected override void ProcessRecord()
        {
            if (ParameterSetName == "Database")
            {
                // Each piped database's failure is its own error; the next database is still read.
                OnDatabase(store => WriteFields(Schemas.Resolve(this, MigrationLog.RecordedRelease(MigrationLog.Read(store))
                    ?? throw new SchemaException($"{store.Location} has no recorded schema release: run Set-DfMigrationBaseline first.",
                                                 SchemaException.NotFoundId, store.Location,
                                                 "Record the release the database is at with Set-DfMigrationBaseline, then run again."))));
                return;
            }
            // The Release set, where -Release is mandatory.
            try { WriteFields(Schemas.Resolve(this, Release!)); }
            catch (Exception e) when (IsReported(e)) { ThrowTerminatingError(ErrorFor(e, Release)); }
        }

        void WriteFields(SchemaManifest schema)
        {
            foreach (var t in schema.Tables.Values.Where(t => Table == null || Table.Contains(t.Name)).OrderBy(t => t.Name, StringComparer.Ordinal))
            {
                if (t.Value != null) WriteObject(new DfSchemaField(schema.Release, t.Name, null, t.Value));
                else if (t.Model != null) foreach (var name in t.Model.FieldOrder) WriteObject(new DfSchemaField(schema.Release, t.Name, name, t.Model.Fields[name]));
            }
        }
    }

    /// <summary>The changes between two schemas, each classified as automatic or needing a migration.</summary>
    [Cmdlet(VerbsData.Compare, "DfSchema")]
    [OutputType(typeof(DfSchemaChange))]
    public sealed class CompareDfSchema : DfCmdlet
    {
        /// <summary>The older schema: a release name or a manifest path.</summary>
        [Parameter(Mandatory = true, Position = 0)]
        [ArgumentCompleter(typeof(ReleaseCompleter))]
        public string Reference { get; set; } = null!; // Mandatory: bound before the cmdlet uses it.

        /// <summary>The newer schema: a release name or a manifest path.</summary>
        [Parameter(Mandatory = true, Position = 1)]
        [ArgumentCompleter(typeof(ReleaseCompleter))]
        public string Difference { get; set; } = null!; // Mandatory: bound before the cmdlet uses it.

        protected override void ProcessRecord()
        {
            try
            {
                foreach (var c in SchemaDiff.Compare(Schemas.Resolve(this, Reference), Schemas.Resolve(this, Difference)))
                    WriteObject(new DfSchemaChange(c));
            }
            catch (Exception e) when (IsReported(e)) { ThrowTerminatingError(ErrorFor(e, Reference)); }
        }
    }

    /// <summary>
    /// The check a project's CI runs on a model change: $true when every change between the two
    /// schemas that is not automatic is handled by some known migration; else $false, with one
    /// error per unhandled change.
    /// </summary>
    [Cmdlet(VerbsDiagnostic.Test, "DfSchemaChange")]
    [OutputType(typeof(bool))]
    public sealed class TestDfSchemaChange : DfCmdlet
    {
        [Parameter(Mandatory = true, Position = 0)]
        [ArgumentCompleter(typeof(ReleaseCompleter))]
        public string Baseline { get; set; } = null!; // Mandatory: bound before the cmdlet uses it.

        [Parameter(Mandatory = true, Position = 1)]
        [ArgumentCompleter(typeof(ReleaseCompleter))]
        public string Current { get; set; } = null!; // Mandatory: bound before the cmdlet uses it.

        [Parameter]
        public string[]? MigrationPath { get; set; }

        protected override void ProcessRecord()
        {
            try
            {
                var changes = SchemaDiff.Compare(Schemas.Resolve(this, Baseline), Schemas.Resolve(this, Current));
                var handles = MigrationSources.Catalog(this, MigrationPath).Migrations.SelectMany(m => m.Handles);
                var unhandled = SchemaUpgrade.FindUnhandled(changes, handles);
                foreach (var c in unhandled)
                    WriteError(Record(new Engine.Errors.DfException("SchemaChangeUnhandled", Engine.Errors.DfErrorCategory.InvalidData,
                        $"{c.Key}: {c.Detail}. No migration handles it.", c.Key, $"Write a migration that takes care of it, with Handles = @('{c.Key}').")));
                WriteObject(unhandled.Count == 0);
            }
            catch (Exception e) when (IsReported(e)) { ThrowTerminatingError(ErrorFor(e, Current)); }
        }
    }
}
