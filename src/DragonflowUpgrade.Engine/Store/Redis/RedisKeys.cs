using System;
using System.Collections.Generic;
using System.Diagnostics.CodeAnalysis;
using System.Linq;
using System.Runtime.CompilerServices;
using System.Text;
using DragonflowUpgrade.Engine.Json;

namespace DragonflowUpgrade.Engine.Store
{
    /// <summary>
    /// The key layouts of Dragonflow's redis driver. Up to 5.0.0 (queens) a key is
    /// <c>{table.topic}.id</c>, the topic empty when none; from the driver's rewrite (commit
    /// d122eed0) on, which is master's, it is <c>{table.topic}id</c>. Either way a table's keys
    /// share the <c>{table.topic}</c> hash tag, and the counters of <c>allocate_unique_key</c>
    /// are the keys of table <c>unique_key</c>, no topic, id the table counted. A key is read as
    /// queens' when a '.' follows the '}', else as master's: master's layout cannot hold an id
    /// that starts with '.'. The module's own tables (<see cref="ModuleTables"/>) keep queens'
    /// layout whatever the database's, so any run finds its lock and journal.
    /// </summary>
    sealed class RedisKeys : NbKeyLayout
    {
        /// <summary>Pike's and queens' layout, <c>{table.topic}.id</c>.</summary>
        public static readonly RedisKeys Queens = new RedisKeys(".", "{table.topic}.id");

        /// <summary>Master's layout, <c>{table.topic}id</c>.</summary>
        public static readonly RedisKeys Master = new RedisKeys("", "{table.topic}id");

        readonly string _separator;

        RedisKeys(string separator, string name) { _separator = separator; Name = name; }

        public override string Name { get; }

        public override string FormatKey(NbKey key) => PrefixOf(key) + key.Id;

        public override bool KeyHoldsTopic => true;

        public override string? KeyProblem(NbKey key)
        {
            string? why = Problem(key);
            if (why != null || this == Queens || ModuleTables.IsModuleTable(key.Table)) return why;
            if (key.Id.Length == 0) return "has an empty id, which master's key layout cannot hold";
            if (key.Id[0] == '.') return "has an id starting with '.', which master's key layout cannot tell from queens'";
            return null;
        }

        /// <summary>
        /// The layout of a database at a Dragonflow release: master's at master, queens' at pike and
        /// queens; null for any other release (one of the operator's own), whose layout the keys tell.
        /// </summary>
        public static RedisKeys? At(string release)
        {
            if (string.Equals(release, "master", StringComparison.OrdinalIgnoreCase)) return Master;
            if (string.Equals(release, "pike", StringComparison.OrdinalIgnoreCase) || string.Equals(release, "queens", StringComparison.OrdinalIgnoreCase)) return Queens;
            return null;
        }

        /// <summary>The other layout: where an object of this one may still be stored while a database changes layout.</summary>
        public RedisKeys Other => this == Queens ? Master : Queens;

        /// <summary>Queens' key for (table, topic, id): the layout of the module's own tables, and of pike's and queens' databases.</summary>
        public static string Format(NbKey key) => Queens.FormatKey(key);

        // What a key has before its id, "{table.topic}." or "{table.topic}"; the module's own tables are always in queens' layout.
        string PrefixOf(NbKey key) =>
            "{" + key.Table + "." + key.Topic + "}" + (ModuleTables.IsModuleTable(key.Table) ? "." : _separator);

        /// <summary>This layout's key for (table, topic, id) in the other layout, or null when reading that key would give another object.</summary>
        public string? OtherFormOf(NbKey key) =>
            ModuleTables.IsModuleTable(key.Table) || key.Id.Length == 0 || key.Id[0] == '.' ? null : Other.FormatKey(key);

        /// <summary>A table's keys share a few prefixes: a write makes each once rather than a key text per change.</summary>
        public Func<NbKey, string> Prefixes()
        {
            var prefixes = new Dictionary<(string, string?), string>();
            return key =>
            {
                if (!prefixes.TryGetValue((key.Table, key.Topic), out var prefix)) prefixes.Add((key.Table, key.Topic), prefix = PrefixOf(key));
                return prefix;
            };
        }

        /// <summary>Why (table, topic, id) would not read back from queens' key as itself; null when it would.</summary>
        public static string? Problem(NbKey key)
        {
            if (string.IsNullOrEmpty(key.Table)) return "has no table";
            if (key.Table.IndexOfAny(TableStops) >= 0) return "has '.', '{' or '}' in its table";
            if (key.Topic != null && key.Topic.IndexOf('}') >= 0) return "has '}' in its topic";
            if (key.Id == null) return "has no id";
            return NotUtf8(key, topicInKey: true);
        }

        static readonly char[] TableStops = { '.', '{', '}' };

        /// <summary>
        /// Parses a Dragonflow key of either layout from its bytes; false for keys that are not NB
        /// objects. <paramref name="layout"/> is the layout the key is in.
        /// </summary>
        /// <exception cref="DecoderFallbackException">The key has the shape of an NB key but is not UTF-8.</exception>
        [MethodImpl(Hot.Optimize)]
        public static bool TryParse(ReadOnlySpan<byte> utf8, out NbKey key, NameTable names, [NotNullWhen(true)] out RedisKeys? layout)
        {
            key = default;
            layout = null;
            // '{', '.' and '}' are single bytes in UTF-8, never part of another character's bytes.
            if (utf8.Length < 5 || utf8[0] != '{') return false;
            int close = utf8.IndexOf((byte)'}');
            if (close < 0 || close + 1 >= utf8.Length) return false;
            int dot = utf8.Slice(1).IndexOf((byte)'.') + 1;
            if (dot <= 1 || dot > close) return false;
            int id = utf8[close + 1] == '.' ? close + 2 : close + 1;
            layout = id == close + 2 ? Queens : Master;
            string table = names.Share(utf8.Slice(1, dot - 1));
            string topic = names.Share(utf8.Slice(dot + 1, close - dot - 1));
            key = new NbKey(table, topic, NbJson.Utf8Text(utf8.Slice(id)));
            return true;
        }

        /// <inheritdoc cref="TryParse(ReadOnlySpan{byte}, out NbKey, NameTable, out RedisKeys)"/>
        public static bool TryParse(ReadOnlySpan<byte> utf8, out NbKey key, NameTable names) => TryParse(utf8, out key, names, out _);

        /// <summary>The SCAN pattern of a table's keys, or of every NB key.</summary>
        public static string Pattern(string? table) => table == null ? "{*" : "{" + EscapeGlob(table) + ".*";

        /// <summary>
        /// A SCAN pattern that every key of <paramref name="tables"/> matches: a class of their
        /// characters at each place up to the end of the shortest name, or to the first character
        /// beyond ASCII (a class holds bytes). Keys of other tables may match it too; a read keeps
        /// only the tables' own. Null: every NB key.
        /// </summary>
        public static string Pattern(IReadOnlyCollection<string>? tables)
        {
            if (tables == null || tables.Count == 1) return Pattern(tables?.First());
            var pattern = new StringBuilder("{");
            int shortest = tables.Min(t => t.Length);
            for (int i = 0; i < shortest; i++)
            {
                var chars = tables.Select(t => t[i]).Distinct().OrderBy(c => c).ToList();
                if (chars.Any(c => c >= 0x80)) break;
                if (chars.Count == 1)
                {
                    pattern.Append(EscapeGlob(chars[0].ToString()));
                    continue;
                }
                pattern.Append('[');
                foreach (char c in chars)
                {
                    if ("\\[]^-".IndexOf(c) >= 0) pattern.Append('\\');  // taken as themselves, not as a range, a negation or the end
                    pattern.Append(c);
                }
                pattern.Append(']');
            }
            return pattern.Append('*').ToString();
        }

        static string EscapeGlob(string s)
        {
            var sb = new StringBuilder(s.Length);
            foreach (char c in s)
            {
                if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') sb.Append('\\');
                sb.Append(c);
            }
            return sb.ToString();
        }
    }
}
