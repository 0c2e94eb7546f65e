using System;
using System.Collections.Generic;

namespace DragonflowUpgrade.Engine.Store
{
    /// <summary>Whether objects can be stored in a database's key layout and read back as the same (table, topic, id).</summary>
    public static class StoredKeys
    {
        /// <summary>
        /// Refuses (<see cref="NbKeyException"/>, <c>NbKeyNotStorable</c>) when any of <paramref name="keys"/>,
        /// the objects a database is to hold, would not read back as itself from <paramref name="store"/>'s
        /// layout, or would share a stored key with another. Called before anything is written.
        /// </summary>
        public static void Require(INbStore store, IEnumerable<NbKey> keys)
        {
            var layout = store.Parts.KeyLayout;
            if (layout == null) return;   // the store keeps table, topic and id as they are
            var seen = new Dictionary<string, NbKey>(StringComparer.Ordinal);
            var named = new List<string>();
            int count = 0;
            foreach (var key in keys)
            {
                string why = layout.KeyProblem(key);
                if (why == null)
                {
                    string stored = layout.FormatKey(key);
                    if (!seen.TryGetValue(stored, out var other)) seen.Add(stored, key);
                    else if (!other.Equals(key)) why = $"has the stored key '{stored}' of {Describe(other)} too";
                }
                if (why != null && count++ < 5) named.Add($"{Describe(key)} {why}");
            }
            if (count > 0) throw NbKeyException.NotStorable(store.Location, named, count);
        }

        static string Describe(NbKey key) => $"table '{key.Table}' topic {(key.Topic == null ? "none" : "'" + key.Topic + "'")} id '{key.Id}'";
    }
}
