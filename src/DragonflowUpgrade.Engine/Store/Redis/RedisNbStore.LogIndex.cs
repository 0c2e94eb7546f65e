using System.Collections.Generic;
using System.Linq;
using DragonflowUpgrade.Engine.Migrations;

namespace DragonflowUpgrade.Engine.Store
{
    // The migration log without a SCAN of the keyspace: a set of its rows' keys, kept in step by
    // every write of a log row, so that a run with nothing pending reads a few keys at any size.
    // The set holds each key in the queens form whatever the layout, and a read looks for the row
    // in both layouts, so that a log part way through a move to master's layout reads whole.
    public sealed partial class RedisNbStore
    {
        /// <summary>The set of the log rows' keys. Not the shape of an NB key, so reads of NB objects skip it; in the module's df_upgrade_ namespace.</summary>
        internal const string LogIndexKey = "{df_upgrade_log_index}";

        /// <summary>
        /// The set in a Redis Cluster: the log rows' hash tag and nothing after it, so that it shares
        /// their slot (a script that writes rows updates it) and is no NB key (no id follows the tag).
        /// </summary>
        internal const string ClusterLogIndexKey = "{" + MigrationLog.Table + ".}";

        // The member that says the set holds every row: added, with the rows a SCAN finds, by the
        // first write of a log row to a database whose set lacks it (one written before the set was
        // kept, or whose log was emptied: the set goes with its last row).
        const string LogIndexComplete = "";

        bool _logIndexComplete;

        // Takes log rows' keys (KEYS) out of the set; a set left with only the member that says it
        // is complete is removed, so a database whose log is emptied is left as it was before any.
        const string LogIndexRemoveScript =
            "redis.call('SREM', '" + LogIndexKey + "', unpack(KEYS)) " +
            "if redis.call('SCARD', '" + LogIndexKey + "') == 1 then redis.call('DEL', '" + LogIndexKey + "') end return 0";

        static bool IsLogRow(NbEntry e) => e.Key.Table == MigrationLog.Table;

        // The log's rows by the set; null when the set is not complete (then the caller scans).
        // A key in the set that is gone (deleted by hand) is skipped.
        List<NbEntry>? ReadLogByIndex()
        {
            NotWhileReading();
            return Guard<List<NbEntry>?>("read", () =>
            {
                _connection.Command("SMEMBERS", _logIndexKey);
                _connection.Flush();
                var members = _connection.ReadArray().Select(m => m as byte[] ?? throw UnexpectedReply("SMEMBERS", "a set's members")).ToList();
                if (members.RemoveAll(m => m.Length == 0) == 0) return null;
                var names = new NameTable();
                var keys = new List<NbKey>(members.Count);
                foreach (var m in members)
                    if (RedisKeys.TryParse(m, out var key, names) && key.Table == MigrationLog.Table) keys.Add(key);
                return ReadInBothLayouts(keys);
            });
        }

        // The rows of a module table of fixed rows by their keys: the table holds no others (ModuleTables.FixedIds).
        List<NbEntry> ReadFixedRows(string table, string[] ids)
        {
            NotWhileReading();
            var keys = ids.Select(id => new NbKey(table, null, id)).ToList();
            return Guard("read", () => ReadInBothLayouts(keys));
        }

        // The objects of keys, by one MGET of each key in both layouts; the one in the layout in use
        // when both are there. A key in neither is left out.
        List<NbEntry> ReadInBothLayouts(List<NbKey> keys)
        {
            var entries = new List<NbEntry>(keys.Count);
            if (keys.Count == 0) return entries;
            _connection.Array(1 + 2 * keys.Count);
            _connection.Bulk("MGET");
            foreach (var key in keys)
            {
                _connection.Bulk(_layout.FormatKey(key));
                _connection.Bulk(_layout.Other.FormatKey(key));
            }
            _connection.Flush();
            if (_connection.ReadArrayLength() != 2 * keys.Count) throw new System.IO.IOException("Redis answered MGET with another number of values than keys asked for.");
            var arena = new ByteArena();
            foreach (var key in keys)
            {
                bool here = _connection.TryReadBulk(arena, out var value);
                bool there = _connection.TryReadBulk(arena, out var otherValue);
                if (here) entries.Add(new NbEntry(key, value));
                else if (there) entries.Add(new NbEntry(key, otherValue));
            }
            return entries;
        }

        // Before a write of log rows: makes the set complete if it is not, from a SCAN of the log.
        void CompleteLogIndex(IReadOnlyCollection<NbEntry> changes)
        {
            if (_logIndexComplete || !changes.Any(IsLogRow)) return;
            NotWhileReading();
            bool complete = Guard("read", () =>
            {
                _connection.Command("SISMEMBER", _logIndexKey, LogIndexComplete);
                _connection.Flush();
                return _connection.ReadReply() is long n && n == 1;
            });
            if (!complete)
            {
                var keys = ReadKeys(MigrationLog.Table).Select(RedisKeys.Format).ToList();
                Guard("write", () =>
                {
                    _connection.Command(new[] { "SADD", _logIndexKey, LogIndexComplete }.Concat(keys).ToArray());
                    _connection.Flush();
                    return _connection.ReadReply();
                });
            }
            _logIndexComplete = true;
        }
    }
}
