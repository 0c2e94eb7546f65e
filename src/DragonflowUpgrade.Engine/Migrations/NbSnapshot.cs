using System;
using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using DragonflowUpgrade.Engine.Errors;
using DragonflowUpgrade.Engine.Json;
using DragonflowUpgrade.Engine.Store;

namespace DragonflowUpgrade.Engine.Migrations
{
    /// <summary>
    /// The in-memory copy of an NB database that migrations act on. It keeps each object's
    /// stored bytes and, once changed, its new bytes; <see cref="Diff()"/> gives only the
    /// objects whose data really changed.
    /// </summary>
    public sealed partial class NbSnapshot : INbApi, Schema.IObjectIndex
    {
        /// <summary>The object a migration touched last, for error messages: "lport/1234".</summary>
        public string? LastObject => _lastTable == null ? null : _lastTable + "/" + _lastId;

        public int Count { get; private set; }

        /// <summary>Reads the whole database, batch by batch.</summary>
        public static NbSnapshot Load(INbStore store, IProgress<int>? progress = null)
        {
            var snapshot = new NbSnapshot();
            int n = 0;
            foreach (var e in StoredValue.Checked(store))
            {
                if (ModuleTables.IsModuleTable(e.Key.Table)) continue;
                snapshot.AddOriginal(e);
                if (++n % 10000 == 0) progress?.Report(n);
            }
            progress?.Report(n);
            return snapshot;
        }
        public IReadOnlyCollection<string> Tables =>
            _tables.Values.Where(t => t.Slots.Values.Any(i => At(i).CurrentKey.HasValue)).Select(t => t.Name).OrderBy(t => t, StringComparer.Ordinal).ToList();

        readonly List<string> _warnings = new List<string>();

        /// <summary>What migrations said the operator must know, in order.</summary>
        public IReadOnlyList<string> Warnings => _warnings;

        public void Warn(string message) => _warnings.Add(message);

        /// <summary>Every live object of every table.</summary>
        public IEnumerable<NbEntry> AllEntries() => AllEntriesAsRead().Select(x => x.Entry);

        // A schema may name a table no object can have (""): nothing exists there.
        bool Schema.IObjectIndex.Exists(string table, string id) => !string.IsNullOrEmpty(table) && Find(table, id) >= 0;

        IEnumerable<NbEntry> Schema.IObjectIndex.Entries(string table) => string.IsNullOrEmpty(table) ? Enumerable.Empty<NbEntry>() : Entries(table);

        /// <summary>The current stored text of every live object of a table, in id order.</summary>
        public IEnumerable<NbEntry> Entries(string table) =>
            Live(table).Select(x => new NbEntry(x.Key, x.Bytes));

        public IEnumerable<NbObject> GetAll(string table)
        {
            // The table as it is now, like nb_api's get_all.
            var live = Live(table);
            using (var ahead = live.Length >= 2 * ParseAhead.BatchSize && Environment.ProcessorCount > 1 ? new ParseAhead(live, ParsingPatience) : null)
                for (int i = 0; i < live.Length; i++)
                {
                    var (index, key, bytes, changed, isChecked) = live[i];
                    _lastTable = table;
                    _lastId = key.Id;
                    yield return Accept(index, key, changed, ahead != null ? ahead.Take(i) : Parse(key, bytes, isChecked));
                }
        }

        public NbObject? Get(string table, string id)
        {
            _lastTable = table;
            _lastId = id;
            int i = Find(table, id);
            if (i < 0 || At(i).CurrentKey is not NbKey key) return null;
            return Accept(i, key, At(i).Changed, Parse(key, At(i).Bytes, At(i).Checked));
        }
        /// <summary>Error id: a migration wrote the migration log or one of the module's own tables.</summary>
        public const string ModuleTableWrittenId = "MigrationWritesModuleTable";

        // The log says which migrations ran and the module's tables hold its lock and journal: a
        // migration that wrote them could make itself pending again or break a commit. It may read them.
        static void RequireWritable(string table, NbObject obj)
        {
            if (IsReadOnly(table)) throw ModuleTableWritten(table, obj?["id"] as string);
        }

        static void RequireWritable(string table, string id)
        {
            if (IsReadOnly(table)) throw ModuleTableWritten(table, id);
        }

        static bool IsReadOnly(string table) => table == MigrationLog.Table || (table != null && ModuleTables.IsModuleTable(table));

        static DfException ModuleTableWritten(string table, string? id) =>
            new DfException(ModuleTableWrittenId, DfErrorCategory.InvalidOperation,
                $"it writes {table}/{id}, but table '{table}' holds the module's own records, which migrations may read but never write.",
                $"{table}/{id}", "Change the migration to leave that table alone: the module writes the migration log itself.");

        public void Create(string table, NbObject obj)
        {
            RequireWritable(table, obj);
            string id = IdOf(table, obj);
            _lastTable = table;
            _lastId = id;
            var t = TableOf(table);
            bool known = t.Slots.TryGetValue(id, out int i);
            if (known && At(i).CurrentKey.HasValue)
                throw new InvalidOperationException($"Cannot create {table}/{id}: it already exists.");
            if (!known) t.Slots.Add(id, i = NewSlot(new Slot()));
            SetCurrent(ref At(i), new NbKey(t.Name, TopicOf(obj), id), obj);
        }

        [MethodImpl(Hot.Optimize)]
        public void Update(string table, NbObject obj)
        {
            RequireWritable(table, obj);
            string id = IdOf(table, obj);
            _lastTable = table;
            _lastId = id;
            int i = Find(table, id);
            if (i < 0 || At(i).CurrentKey is not NbKey key) throw new InvalidOperationException($"Cannot update {table}/{id}: it does not exist.");
            ref Slot s = ref At(i);
            // Keep the key's strings when they are unchanged: the object's own copies would outlive it for nothing.
            string? topic = TopicOf(obj);
            // The key moves only when the migration changed the object's topic: some objects (a
            // listener's) have a topic in their key and none in their value.
            if (topic != key.Topic && topic == StoredTopicOf(s.Bytes)) topic = key.Topic;
            SetCurrent(ref s, new NbKey(key.Table, topic == key.Topic ? key.Topic : topic, key.Id), obj);
        }
        public void Delete(string table, string id)
        {
            RequireWritable(table, id);
            _lastTable = table;
            _lastId = id;
            int i = Find(table, id);
            if (i < 0) throw new InvalidOperationException($"Cannot delete {table}/{id}: it does not exist.");
            At(i).CurrentKey = null;
            At(i).Current = default;
            At(i).Changed = false;
        }

        static string IdOf(string table, NbObject obj)
        {
            if (obj == null) throw new ArgumentNullException(nameof(obj), $"No object given for table '{table}'.");
            if (obj["id"] is string id && id.Length > 0) return id;
            throw new InvalidOperationException($"An object for table '{table}' needs a non-empty string 'id'.");
        }

        static string? StoredTopicOf(ReadOnlyMemory<byte> bytes)
        {
            string? topic = NbJson.TopicOf(bytes.Span);
            return string.IsNullOrEmpty(topic) ? null : topic;
        }

        static string? TopicOf(NbObject obj) => obj["topic"] is string topic && topic.Length > 0 ? topic : null;
    }
}
