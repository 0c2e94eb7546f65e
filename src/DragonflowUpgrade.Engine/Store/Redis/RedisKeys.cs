using System;
using System.Collections.Generic;
using System.Runtime.CompilerServices;
using System.Text;
using DragonflowUpgrade.Engine.Json;

namespace DragonflowUpgrade.Engine.Store
{
    /// <summary>
    /// The key layout of Dragonflow's redis driver: <c>{table.topic}.id</c>, the topic empty when
    /// none. A table's keys share the <c>{table.topic}</c> hash tag.
    /// </summary>
    sealed class RedisKeys : NbKeyLayout
    {
        public static readonly RedisKeys Layout = new RedisKeys();

        RedisKeys() { }

        public override string FormatKey(NbKey key) => Format(key);

        public override string KeyProblem(NbKey key) => Problem(key);

        /// <summary>Dragonflow's key for (table, topic, id).</summary>
        public static string Format(NbKey key) => Prefix(key) + key.Id;

        // What a key has before its id, "{table.topic}.".
        static string Prefix(NbKey key) => "{" + key.Table + "." + key.Topic + "}.";

        /// <summary>A table's keys share a few prefixes: a write makes each once rather than a key text per change.</summary>
        public static Func<NbKey, string> Prefixes()
        {
            var prefixes = new Dictionary<(string, string), string>();
            return key =>
            {
                if (!prefixes.TryGetValue((key.Table, key.Topic), out var prefix)) prefixes.Add((key.Table, key.Topic), prefix = Prefix(key));
                return prefix;
            };
        }

        /// <summary>Why (table, topic, id) would not read back from <see cref="Format"/>'s key as itself; null when it would.</summary>
        public static string Problem(NbKey key)
        {
            if (string.IsNullOrEmpty(key.Table)) return "has no table";
            if (key.Table.IndexOfAny(TableStops) >= 0) return "has '.', '{' or '}' in its table";
            if (key.Topic != null && key.Topic.IndexOf('}') >= 0) return "has '}' in its topic";
            if (key.Id == null) return "has no id";
            return null;
        }

        static readonly char[] TableStops = { '.', '{', '}' };

        /// <summary>Parses a Dragonflow key from its bytes; false for keys that are not NB objects.</summary>
        /// <exception cref="DecoderFallbackException">The key has the shape of an NB key but is not UTF-8.</exception>
        [MethodImpl(Hot.Optimize)]
        public static bool TryParse(ReadOnlySpan<byte> utf8, out NbKey key, NameTable names)
        {
            key = default;
            // '{', '.' and '}' are single bytes in UTF-8, never part of another character's bytes.
            if (utf8.Length < 5 || utf8[0] != '{') return false;
            int close = utf8.IndexOf((byte)'}');
            if (close < 0 || close + 1 >= utf8.Length || utf8[close + 1] != '.') return false;
            int dot = utf8.Slice(1).IndexOf((byte)'.') + 1;
            if (dot <= 1 || dot > close) return false;
            string table = names.Share(utf8.Slice(1, dot - 1));
            string topic = names.Share(utf8.Slice(dot + 1, close - dot - 1));
            key = new NbKey(table, topic, NbJson.Utf8Text(utf8.Slice(close + 2)));
            return true;
        }

        /// <summary>The SCAN pattern of a table's keys, or of every NB key.</summary>
        public static string Pattern(string table) => table == null ? "{*" : "{" + EscapeGlob(table) + ".*";

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
