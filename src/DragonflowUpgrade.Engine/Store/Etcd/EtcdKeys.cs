using System;
using System.Text;
using DragonflowUpgrade.Engine.Json;

namespace DragonflowUpgrade.Engine.Store
{
    /// <summary>
    /// The key layout of Dragonflow's etcd driver: <c>/table/id</c>. The key has no topic: an
    /// object's topic is read from its value.
    /// </summary>
    sealed class EtcdKeys : NbKeyLayout
    {
        public static readonly EtcdKeys Layout = new EtcdKeys();

        EtcdKeys() { }

        public override string Name => "/table/id";

        public override string FormatKey(NbKey key) => Format(key);

        public override bool KeyHoldsTopic => false;

        public override string? KeyProblem(NbKey key) => Problem(key);

        /// <summary>Dragonflow's key for (table, topic, id): <c>/table/id</c>; the topic is not part of it.</summary>
        public static string Format(NbKey key) => "/" + key.Table + "/" + key.Id;

        /// <summary>Why (table, id) would not read back from <see cref="Format"/>'s key as itself; null when it would. The topic is not in the key.</summary>
        public static string? Problem(NbKey key)
        {
            if (string.IsNullOrEmpty(key.Table)) return "has no table";
            if (key.Table.IndexOf('/') >= 0) return "has '/' in its table";
            if (string.IsNullOrEmpty(key.Id)) return "has no id";
            return NotUtf8(key, topicInKey: false);
        }

        /// <summary>
        /// Parses a Dragonflow key and takes the topic from the value; false for keys that are
        /// not NB objects (not <c>/table/id</c> with a table and an id).
        /// </summary>
        public static bool TryParse(string? text, byte[] value, out NbKey key, NameTable? names = null)
        {
            key = default;
            if (text == null || text.Length < 3 || text[0] != '/') return false;
            int slash = text.IndexOf('/', 1);
            if (slash <= 1) return false;  // an empty id is read, for StoredValue to refuse as on any store
            string table = text.Substring(1, slash - 1);
            string? topic = ModuleTables.IsModuleTable(table) ? null : NbJson.TopicOf(value);
            if (names != null)
            {
                table = names.Share(table);
                if (topic != null) topic = names.Share(topic);
            }
            key = new NbKey(table, topic, text.Substring(slash + 1));
            return true;
        }

        public static byte[] Utf8(string s) => Encoding.UTF8.GetBytes(s);

        /// <summary>The first key after <paramref name="key"/>: the key with a zero byte appended.</summary>
        public static byte[] After(byte[] key)
        {
            var next = new byte[key.Length + 1];
            Buffer.BlockCopy(key, 0, next, 0, key.Length);
            return next;
        }

        /// <summary>The end of the range of keys that start with <paramref name="prefix"/> (its last byte plus one).</summary>
        public static byte[] PrefixEnd(byte[] prefix)
        {
            var end = (byte[])prefix.Clone();
            for (int i = end.Length - 1; i >= 0; i--)
            {
                if (end[i] < 0xff) { end[i]++; Array.Resize(ref end, i + 1); return end; }
            }
            return new byte[] { 0 }; // every key
        }
    }
}
