using System.Linq;
using System.Text;
using DragonflowUpgrade.Engine.Json;
using DragonflowUpgrade.Engine.Migrations;

namespace DragonflowUpgrade.Engine.Schema
{
    /// <summary>The changes the module makes without a migration: a new field's default written into objects that lack it.</summary>
    public static class AutomaticUpgrade
    {
        public static void WriteDefault(INbApi nb, string table, string field, SchemaManifest target)
        {
            if (!target.Tables.TryGetValue(table, out var t) || t.Model == null) return;
            var spec = t.Model.Fields[field];
            if (spec.Default == null) return;
            foreach (var obj in nb.GetAll(table).Where(o => !o.ContainsKey(field)).ToList())
            {
                obj[field] = NbJson.Parse(Encoding.UTF8.GetBytes(spec.Default));
                nb.Update(table, obj);
            }
        }
    }
}
