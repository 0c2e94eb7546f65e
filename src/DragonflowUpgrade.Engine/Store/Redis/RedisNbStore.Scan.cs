using System;
using System.Collections.Generic;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Runtime.CompilerServices;
using System.Text;
using DragonflowUpgrade.Engine.Json;

namespace DragonflowUpgrade.Engine.Store
{
    // The reads: SCAN pages, and the values of each page's keys by batched MGET.
    public sealed partial class RedisNbStore
    {
        public IEnumerable<NbKey> ReadKeys(string? table = null) => Pages(Tables(table), values: false).SelectMany(page => page.Keys);

        public IEnumerable<NbEntry> Read(string? table = null) =>
            (table == Migrations.MigrationLog.Table ? ReadLogByIndex() : table != null && ModuleTables.FixedIds(table) is string[] ids ? ReadFixedRows(table, ids) : null)
            ?? Pages(Tables(table), values: true).SelectMany(page => page.Entries!);   // a read of values has every page's

        /// <summary>One SCAN of the keyspace rather than one per table, unless a table is read by its keys (<see cref="ReadByKey"/>).</summary>
        public IEnumerable<NbEntry> ReadTables(IReadOnlyCollection<string> tables)
        {
            tables = NbTables.Distinct(tables);
            if (tables.Count == 0) return Enumerable.Empty<NbEntry>();
            return tables.Any(ReadByKey) ? tables.SelectMany(t => Read(t)) : Pages(tables, values: true).SelectMany(page => page.Entries!);
        }

        static string[]? Tables(string? table) => table == null ? null : new[] { table };

        /// <summary>The tables read by their keys, not by a SCAN: their rows and index share one slot (hash tag <c>{table.}</c>).</summary>
        internal static bool ReadByKey([NotNullWhen(true)] string? table) => table == Migrations.MigrationLog.Table || ModuleTables.FixedIds(table) != null;

        // What one read has asked Redis for and not yet read back.
        sealed class ScanRead
        {
            public ScanRead(IReadOnlyCollection<string>? tables, bool values)
            {
                Tables = tables;
                Values = values;
                Pattern = RedisKeys.Pattern(tables);
                _prefixes = tables?.Select(t => Encoding.UTF8.GetBytes("{" + t + ".")).ToArray();
                if (tables == null) Layouts = new Dictionary<NbKeyLayout, string>();
            }
            public readonly IReadOnlyCollection<string>? Tables;  // null: every table
            readonly byte[][]? _prefixes;  // each table's keys' start, "{table."

            /// <summary>Whether a key is of a table read: the pattern of several tables matches other tables' keys too.</summary>
            public bool IsFor(ReadOnlySpan<byte> key)
            {
                if (_prefixes == null) return true;
                foreach (var prefix in _prefixes)
                    if (key.StartsWith(prefix)) return true;
                return false;
            }
            public readonly string Pattern;
            public readonly bool Values;
            public readonly NameTable Names = new NameTable();
            public readonly ByteArena Arena = new ByteArena();
            public readonly RespArguments Arguments = new RespArguments();
            public bool ScanPending;
            public int MgetsPending;
            public string? NotStringsSha;  // a keys-only read's script, loaded once for its batches
            // A read of every table: the layouts of its NB keys, the module's own left out, each with its first key.
            public readonly Dictionary<NbKeyLayout, string>? Layouts;

            public void NoteLayout(NbKey key, RedisKeys layout, ReadOnlySpan<byte> text)
            {
                if (Layouts != null && !Layouts.ContainsKey(layout) && !ModuleTables.IsModuleTable(key.Table)) Layouts.Add(layout, NbKeyException.Display(text));
            }
            // Keys MGET answered nil for: deleted since the SCAN, or holding another type than a string.
            public readonly List<byte[]> Suspects = new List<byte[]>();
            // The layout of each key of the page NextPage parsed last, and the lengths of its MGET batches.
            public List<RedisKeys> PageLayouts = new List<RedisKeys>();
            public List<int> Lengths = new List<int>();
        }

        // The NB objects of a SCAN page at a time. Each SCAN goes out as soon as the cursor before
        // it is read, and a page's MGETs as soon as its keys are, so Redis scans and looks up
        // values while the client parses replies and the caller takes the page before. Replies
        // are still in flight while the caller has a page: until the read ends, the store
        // refuses another read or a write rather than mix their replies.
        IEnumerable<(List<NbKey> Keys, List<NbEntry>? Entries)> Pages(IReadOnlyCollection<string>? tables, bool values)
        {
            NotWhileReading();
            var read = new ScanRead(tables, values);
            _reading = true;
            try
            {
                var keys = Guard("read", () =>
                {
                    if (!values) read.NotStringsSha = LoadScript(NotStringsScript);
                    SendScan("0", read);
                    return NextPage(read);
                });
                var layouts = read.PageLayouts;
                var lengths = read.Lengths;
                while (true)
                {
                    var next = read.ScanPending ? Guard("read", () => NextPage(read)) : null;
                    var nextLayouts = read.PageLayouts;
                    var nextLengths = read.Lengths;
                    var entries = Guard("read", () => values ? ReadValues(keys, layouts, lengths, read) : ReadTypes(keys, layouts, lengths, read));
                    if (next == null && read.Suspects.Count > 0) Guard("read", () => CheckSuspects(read));
                    yield return (keys, entries);
                    if (next == null)
                    {
                        _layoutsRead = read.Layouts;
                        yield break;
                    }
                    keys = next;
                    layouts = nextLayouts;
                    lengths = nextLengths;
                }
            }
            finally
            {
                Drain(read);
                _reading = false;
            }
        }

        // Every command on the store's own connection starts here (the lock's go through
        // StackExchange.Redis, and touch only the module's keys). A read under way has replies in
        // flight, which another command would take for its own. What the last read of every table
        // found of the keys' layouts holds until a command that reads or writes keys: a cluster's
        // questions about itself, asked after each read, touch none (touchesKeys false).
        void NotWhileReading(bool touchesKeys = true)
        {
            if (touchesKeys) _layoutsRead = null;
            if (_reading) throw new InvalidOperationException($"The Redis NB database at {Location} is being read; finish that read before another read or a write.");
        }

        void SendScan(string cursor, ScanRead read)
        {
            _connection.Command("SCAN", cursor, "MATCH", read.Pattern, "COUNT", ScanPageSize.ToString(CultureInfo.InvariantCulture));
            _connection.Flush();
            read.ScanPending = true;
        }

        // Reads a SCAN reply, sending the next SCAN first, then the MGETs of the page's NB keys
        // (other keys are skipped). The keys go back to Redis as the bytes they came as.
        [MethodImpl(Hot.Optimize)]
        List<NbKey> NextPage(ScanRead read)
        {
            if (_connection.ReadArrayLength() != 2) throw UnexpectedReply("SCAN", "a cursor and keys");
            string cursor = NbJson.Utf8Text(_connection.ReadBulkBytes());
            read.ScanPending = false;
            if (cursor != "0") SendScan(cursor, read);
            long count = _connection.ReadArrayLength();
            var keys = new List<NbKey>((int)Math.Max(0, count));
            var layouts = read.PageLayouts = new List<RedisKeys>(keys.Capacity);
            var arguments = read.Arguments;
            arguments.Clear();
            byte[]? notUtf8 = null;
            for (long i = 0; i < count; i++)
            {
                var text = _connection.ReadBulkBytes();
                NbKey key;
                RedisKeys? layout;
                try
                {
                    if (!RedisKeys.TryParse(text, out key, read.Names, out layout) || (read.Tables != null && !read.Tables.Contains(key.Table))) continue;
                }
                catch (DecoderFallbackException)
                {
                    // Such a key of a table read could not be written back as it is: stop rather than lose
                    // the object (after the rest of the page, so that the connection stays in step).
                    if (read.IsFor(text)) notUtf8 = notUtf8 ?? text.ToArray();
                    continue;
                }
                keys.Add(key);
                layouts.Add(layout);
                arguments.Add(text);
                read.NoteLayout(key, layout, text);
            }
            if (notUtf8 != null) throw NbKeyException.NotUtf8(Location, notUtf8);
            var lengths = read.Lengths = BatchLengths(keys, layouts, arguments);
            // Values: MGET, which answers nil for a key of another type. Keys alone: the script
            // below, which answers with the keys that are not strings (a batch each, like MGET).
            int at = 0;
            foreach (int batch in lengths)
            {
                _connection.Array(batch + (read.Values ? 1 : 3));
                if (read.Values) _connection.Bulk("MGET");
                else
                {
                    _connection.Bulk("EVALSHA");
                    _connection.Bulk(read.NotStringsSha!);   // loaded before a keys-only read's first page
                    _connection.Bulk(batch.ToString(CultureInfo.InvariantCulture));
                }
                _connection.Bulks(arguments, at, batch);
                read.MgetsPending++;
                at += batch;
            }
            _connection.Flush();
            return keys;
        }

        // The lengths of a page's MGET batches: BatchSize at a time; on a cluster's master, the page
        // is first put in slot order (a stable sort) and a batch holds keys of one slot only.
        List<int> BatchLengths(List<NbKey> keys, List<RedisKeys> layouts, RespArguments arguments)
        {
            var lengths = new List<int>(keys.Count / BatchSize + 1);
            if (_slotOf == null)
            {
                for (int at = 0; at < keys.Count; at += BatchSize) lengths.Add(Math.Min(BatchSize, keys.Count - at));
                return lengths;
            }
            var slots = keys.Select(_slotOf).ToList();
            var order = Enumerable.Range(0, keys.Count).OrderBy(i => slots[i]).ToList();
            var sortedKeys = order.Select(i => keys[i]).ToList();
            var sortedLayouts = order.Select(i => layouts[i]).ToList();
            arguments.Reorder(order);
            keys.Clear();
            keys.AddRange(sortedKeys);
            layouts.Clear();
            layouts.AddRange(sortedLayouts);
            for (int at = 0; at < keys.Count;)
            {
                int n = 1;
                while (n < BatchSize && at + n < keys.Count && slots[order[at + n]] == slots[order[at]]) n++;
                lengths.Add(n);
                at += n;
            }
            return lengths;
        }

        // Reads the replies a read left in flight when it ended early, so that the connection can be used again.
        void Drain(ScanRead read)
        {
            try
            {
                for (int n = (read.ScanPending ? 1 : 0) + read.MgetsPending; n > 0; n--) _connection.ReadReply();
            }
            catch (Exception e) when (e is IOException || e is TimeoutException || e is RespErrorException)
            {
                _connection.Dispose();
            }
        }

        [MethodImpl(Hot.Optimize)]
        List<NbEntry> ReadValues(List<NbKey> keys, List<RedisKeys> layouts, List<int> lengths, ScanRead read)
        {
            var entries = new List<NbEntry>(keys.Count);
            int at = 0;
            foreach (int length in lengths)
            {
                long count = _connection.ReadArrayLength();
                read.MgetsPending--;
                if (count != length) throw UnexpectedReply("MGET", "as many values as keys asked for");
                for (int i = 0; i < count; i++)
                {
                    if (_connection.TryReadBulk(read.Arena, out var value)) entries.Add(new NbEntry(keys[at + i], value));
                    else read.Suspects.Add(Encoding.UTF8.GetBytes(layouts[at + i].FormatKey(keys[at + i]))); // deleted since the SCAN, or not a string
                }
                at += length;
            }
            return entries;
        }

        // Each key a string holds, or none: its positions (from 0) and types otherwise.
        const string NotStringsScript =
            "local r = {} for i, k in ipairs(KEYS) do local t = redis.call('TYPE', k)['ok'] " +
            "if t ~= 'string' then r[#r + 1] = i - 1 r[#r + 1] = t end end return r";

        // Loads a script into Redis' script cache; gives its SHA-1, for EVALSHA.
        string LoadScript(string script)
        {
            _connection.Command("SCRIPT", "LOAD", script);
            _connection.Flush();
            var reply = _connection.ReadReply();
            return reply as string ?? Encoding.ASCII.GetString(reply as byte[] ?? throw UnexpectedReply("SCRIPT LOAD", "a script's SHA-1"));
        }

        // The keys of a page without their values: those the script finds deleted since the SCAN are
        // dropped, one of another type is refused, as a read of the values refuses it.
        List<NbEntry>? ReadTypes(List<NbKey> keys, List<RedisKeys> layouts, List<int> lengths, ScanRead read)
        {
            var gone = new HashSet<int>();
            NbKeyException? wrong = null;
            int at = 0;
            foreach (int length in lengths)
            {
                var reply = _connection.ReadArray();
                read.MgetsPending--;
                if (reply.Length % 2 != 0) throw UnexpectedReply("EVALSHA", "the positions and types of keys");
                for (int i = 0; i < reply.Length; i += 2)
                {
                    int index = at + Position(reply[i], 0, length - 1, "EVALSHA");
                    string type = Encoding.UTF8.GetString(reply[i + 1] as byte[] ?? throw UnexpectedReply("EVALSHA", "the positions and types of keys"));
                    if (type == "none") gone.Add(index);
                    else wrong = wrong ?? NbKeyException.WrongType(Location, Encoding.UTF8.GetBytes(layouts[index].FormatKey(keys[index])), type);
                }
                at += length;
            }
            if (wrong != null) throw wrong;
            if (gone.Count > 0)
            {
                var left = keys.Where((k, i) => !gone.Contains(i)).ToList();
                keys.Clear();
                keys.AddRange(left);
                var leftLayouts = layouts.Where((k, i) => !gone.Contains(i)).ToList();
                layouts.Clear();
                layouts.AddRange(leftLayouts);
            }
            return null;
        }

        // The layouts of the NB keys, the module's own left out, each with its first key found: those
        // a read of every table just found, when the store has run no command since; else by a SCAN.
        IReadOnlyDictionary<NbKeyLayout, string> FindKeyLayouts()
        {
            if (_layoutsRead != null) return _layoutsRead;
            NotWhileReading();
            var read = new ScanRead(null, values: false);
            var found = read.Layouts!;
            _reading = true;
            try
            {
                Guard("read", () =>
                {
                    string cursor = "0";
                    do
                    {
                        SendScan(cursor, read);
                        if (_connection.ReadArrayLength() != 2) throw UnexpectedReply("SCAN", "a cursor and keys");
                        cursor = NbJson.Utf8Text(_connection.ReadBulkBytes());
                        read.ScanPending = false;
                        for (long i = _connection.ReadArrayLength(); i > 0; i--)
                        {
                            var text = _connection.ReadBulkBytes();
                            try
                            {
                                if (RedisKeys.TryParse(text, out var key, read.Names, out var layout)) read.NoteLayout(key, layout, text);
                            }
                            catch (DecoderFallbackException) { }  // a read refuses it; its layout is told by others
                        }
                    } while (cursor != "0" && found.Count < 2);
                    return 0;
                });
            }
            finally
            {
                Drain(read);
                _reading = false;
            }
            return found;
        }

        // At the end of a read, when no reply is in flight any more: the type of each key MGET answered
        // nil for, in one pipeline. Deleted since the SCAN is fine; another type is refused.
        int CheckSuspects(ScanRead read)
        {
            foreach (var key in read.Suspects)
            {
                _connection.Array(2);
                _connection.Bulk("TYPE");
                _connection.Bulk(key);
            }
            _connection.Flush();
            NbKeyException? wrong = null;
            foreach (var key in read.Suspects)
            {
                string type = _connection.ReadReply() as string ?? throw UnexpectedReply("TYPE", "a type");
                if (type != "none") wrong = wrong ?? NbKeyException.WrongType(Location, key, type);
            }
            if (wrong != null) throw wrong;
            return 0;
        }
    }
}
