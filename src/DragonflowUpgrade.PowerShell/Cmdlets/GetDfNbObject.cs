using System;
using System.Linq;
using System.Management.Automation;
using DragonflowUpgrade.Engine.Errors;
using DragonflowUpgrade.Engine.Json;
using DragonflowUpgrade.Engine.Store;
using DragonflowUpgrade.PowerShell.Output;
using DragonflowUpgrade.PowerShell.Scripting;

namespace DragonflowUpgrade.PowerShell.Cmdlets
{
    /// <summary>NB objects as PowerShell objects (the spec's df-db get and ls).</summary>
    [Cmdlet(VerbsCommon.Get, "DfNbObject")]
    [OutputType(typeof(PSObject))]
    public sealed class GetDfNbObject : DfDatabaseCmdlet
    {
        [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
        [ArgumentCompleter(typeof(TableCompleter))]
        public string? Table { get; set; }

        [Parameter(Position = 1)]
        public string[]? Id { get; set; }

        protected override void ProcessRecord()
        {
            if (Id != null && Table == null)
                ThrowTerminatingError(Record(new DfException("TableMissing", DfErrorCategory.InvalidArgument,
                    "-Id needs -Table: ids are unique within a table only.", string.Join(", ", Id), "Name the table with -Table.")));
            var wanted = Id == null ? null : new System.Collections.Generic.HashSet<string>(Id, StringComparer.Ordinal);
            OnStore(store =>
            {
                foreach (var e in store.Read(Table))
                {
                    if (wanted != null && !wanted.Remove(e.Key.Id)) continue;
                    WriteObject(ToObject(e));
                }
                if (wanted != null)
                    foreach (var missing in wanted)
                        WriteError(Record(new DfException("NbObjectNotFound", DfErrorCategory.ObjectNotFound,
                            $"{Table}/{missing} is not in the NB database.", missing, "Check the id (Get-DfNbObject -Table lists the table's objects).")));
            });
        }

        static PSObject ToObject(NbEntry e)
        {
            object? value;
            try { value = PsJson.ToPSObject(NbJson.Parse(e.Value.Span)); }
            catch (FormatException) { value = System.Text.Encoding.UTF8.GetString(e.Value.ToArray()); }
            var o = value as PSObject ?? new PSObject(new { id = e.Key.Id, value });
            o.TypeNames.Insert(0, "DragonflowUpgrade.NbObject");
            o.TypeNames.Insert(0, "DragonflowUpgrade.NbObject#" + e.Key.Table);
            o.Properties.Add(new PSNoteProperty("NbTable", e.Key.Table));
            return o;
        }
    }

    /// <summary>The tables of the NB database with their object counts (the spec's df-db tables).</summary>
    [Cmdlet(VerbsCommon.Get, "DfNbTable")]
    [OutputType(typeof(DfNbTable))]
    public sealed class GetDfNbTable : DfDatabaseCmdlet
    {
        protected override void ProcessRecord()
        {
            OnStore(store =>
            {
                foreach (var t in store.ReadKeys().GroupBy(k => k.Table).OrderBy(g => g.Key, StringComparer.Ordinal))
                    WriteObject(new DfNbTable(t.Key, t.Count(), Database));
            });
        }
    }
}
