using System.Linq;
using DragonflowUpgrade.Engine.Schema;

namespace DragonflowUpgrade.PowerShell.Output
{
    /// <summary>One field of a release's schema (Get-DfSchema).</summary>
    public sealed class DfSchemaField
    {
        internal DfSchemaField(string release, string table, string? field, FieldSchema f)
        {
            Release = release;
            Table = table;
            Field = field;
            Type = f.Describe();
            Required = f.Required;
            Default = f.Default;
            var inner = f;
            while (inner.Items != null) inner = inner.Items;
            Values = inner.Values?.ToArray();
            References = inner.Type == "reference" ? inner.Table ?? inner.EmbeddedIn : null;
        }

        public string Release { get; }
        public string Table { get; }
        public string? Field { get; }
        public string Type { get; }
        public bool Required { get; }
        /// <summary>The default as JSON text; null when none.</summary>
        public string? Default { get; }
        public string[]? Values { get; }
        public string? References { get; }
    }

    /// <summary>One difference between two schemas (Compare-DfSchema).</summary>
    public sealed class DfSchemaChange
    {
        internal DfSchemaChange(SchemaChange c)
        {
            Table = c.Table;
            Field = c.Field;
            Change = c.Kind.ToString();
            Automatic = c.Automatic;
            Detail = c.Detail;
            Key = c.Key;
        }

        public string Table { get; }
        public string? Field { get; }
        public string Change { get; }
        public bool Automatic { get; }
        public string Detail { get; }
        /// <summary>How a migration's Handles names this change.</summary>
        public string Key { get; }
    }
}
