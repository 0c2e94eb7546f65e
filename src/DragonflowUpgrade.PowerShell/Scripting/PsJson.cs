using System;
using System.Diagnostics.CodeAnalysis;
using System.Collections;
using System.Collections.Generic;
using System.Collections.Specialized;
using System.Globalization;
using System.Management.Automation;
using System.Numerics;
using DragonflowUpgrade.Engine.Json;

namespace DragonflowUpgrade.PowerShell.Scripting
{
    /// <summary>
    /// Turns NB JSON into PowerShell-native values and back: objects become ordered hashtables
    /// (as <c>ConvertFrom-Json -AsHashtable</c> gives them) or PSCustomObjects, integers Int64,
    /// other numbers Double, arrays object[].
    /// </summary>
    public static class PsJson
    {
        // PowerShell 7.3+ has OrderedHashtable, a Hashtable that keeps insertion order; 5.1 gets an OrderedDictionary.
        static readonly Type? OrderedHashtableType = typeof(PSObject).Assembly.GetType("System.Management.Automation.OrderedHashtable");

        public static IDictionary NewDictionary() =>
            OrderedHashtableType != null ? (IDictionary)Activator.CreateInstance(OrderedHashtableType)! : new OrderedDictionary(); // a class type: never null

        [return: NotNullIfNotNull(nameof(value))]
        public static object? ToHashtable(object? value) => Convert(value, asPSObject: false);

        [return: NotNullIfNotNull(nameof(value))]
        public static object? ToPSObject(object? value) => Convert(value, asPSObject: true);

        // Values as NbJson reads them: NbObject, List<object>, string, long, BigInteger, double, bool, null.
        [return: NotNullIfNotNull(nameof(value))]
        static object? Convert(object? value, bool asPSObject)
        {
            switch (value)
            {
                case NbObject o:
                    if (asPSObject)
                    {
                        var ps = new PSObject();
                        foreach (var p in o) ps.Properties.Add(new PSNoteProperty(p.Key, Convert(p.Value, true)));
                        return ps;
                    }
                    var d = NewDictionary();
                    foreach (var p in o) d[p.Key] = Convert(p.Value, false);
                    return d;
                case List<object?> list:
                    var items = new object?[list.Count];
                    for (int i = 0; i < list.Count; i++) items[i] = Convert(list[i], asPSObject);
                    return items;
                default:
                    return value;
            }
        }

        /// <summary>Turns what a script built back into JSON; <paramref name="path"/> names the field in errors.</summary>
        [return: NotNullIfNotNull(nameof(value))]
        public static object? FromPowerShell(object? value, string path)
        {
            if (value is PSObject pso)
            {
                if (pso.BaseObject is PSCustomObject)
                {
                    var o = new NbObject();
                    foreach (var p in pso.Properties) o[p.Name] = FromPowerShell(p.Value, path + "." + p.Name);
                    return o;
                }
                value = pso.BaseObject;
            }
            switch (value)
            {
                case null: return null;
                // Strings, bools and numbers as they are: NbJson writes every one of them.
                case string _: case bool _: case BigInteger _: case decimal _: case double _: case float _:
                case long _: case int _: case short _: case sbyte _: case ulong _: case uint _: case ushort _: case byte _:
                    return value;
                case char c: return c.ToString();
                case Enum en: return en.ToString();
                case IDictionary dict:
                    var obj = new NbObject();
                    foreach (DictionaryEntry entry in dict)
                    {
                        string key = entry.Key as string ?? System.Convert.ToString(entry.Key, CultureInfo.InvariantCulture) ?? "";
                        obj[key] = FromPowerShell(entry.Value, path + "." + key);
                    }
                    return obj;
                case IEnumerable list:
                    var items = new List<object?>();
                    int n = 0;
                    foreach (var item in list) items.Add(FromPowerShell(item, $"{path}[{n++}]"));
                    return items;
                default:
                    throw new ArgumentException($"{path} holds a {value.GetType().FullName}, which an NB object cannot store; use a string, number, bool, array or hashtable.");
            }
        }
    }
}
