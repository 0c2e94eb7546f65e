using System;
using System.Collections;
using System.Linq;
using DragonflowUpgrade.Engine.Json;
using DragonflowUpgrade.Engine.Migrations;

namespace DragonflowUpgrade.PowerShell.Scripting
{
    /// <summary>
    /// The <c>$NbApi</c> a script migration gets: the engine's NB API with PowerShell-native
    /// objects (ordered hashtables) instead of NbObjects.
    /// </summary>
    public sealed class ScriptNbApi
    {
        readonly INbApi _api;

        public ScriptNbApi(INbApi api) { _api = api; }

        public string[] Tables => _api.Tables.ToArray();

        public object[] GetAll(string table) => _api.GetAll(table).Select(o => PsJson.ToHashtable(o)).ToArray();

        public object? Get(string table, string id)
        {
            var o = _api.Get(table, id);
            return o == null ? null : PsJson.ToHashtable(o);
        }

        public void Create(string table, IDictionary obj) => _api.Create(table, ToObject(table, obj));

        public void Update(string table, IDictionary obj) => _api.Update(table, ToObject(table, obj));

        public void Delete(string table, string id) => _api.Delete(table, id);

        public void Warn(string message) => _api.Warn(message);

        static NbObject ToObject(string table, IDictionary obj)
        {
            if (obj == null) throw new ArgumentNullException(nameof(obj), $"No object given for table '{table}'.");
            return (NbObject)PsJson.FromPowerShell(obj, table);
        }
    }
}
