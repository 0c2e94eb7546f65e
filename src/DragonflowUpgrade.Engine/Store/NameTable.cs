using System;
using System.Collections.Generic;

namespace DragonflowUpgrade.Engine.Store
{
    /// <summary>
    /// One copy of each table and topic name a read meets: they repeat across thousands of keys.
    /// Unlike string.Intern, it takes no global lock and is gone with the read.
    /// </summary>
    public sealed class NameTable
    {
        readonly Dictionary<string, string> _names = new Dictionary<string, string>(StringComparer.Ordinal);

        public string Share(string name)
        {
            if (name == null) return null;
            if (_names.TryGetValue(name, out var kept)) return kept;
            _names.Add(name, name);
            return name;
        }
    }
}
