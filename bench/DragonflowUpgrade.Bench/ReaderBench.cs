using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Numerics;
using System.Text;
using System.Text.Json;
using System.Threading.Tasks;
using DragonflowUpgrade.Engine.Json;
using DragonflowUpgrade.Engine.Store;
using StackExchange.Redis;

// Why the engine keeps two readers of its own, measured on the same data in one process:
//   json <fixture.jsonl> <count>   NB values parsed by NbJson and by System.Text.Json's Utf8JsonReader
//   resp <host:port> <db> <count>  pipelined MGET reads of every key by RespConnection and by StackExchange.Redis
// Each line: what, median seconds of 5 runs (after a warm-up), MB allocated per run.
static class ReaderBench
{
    const int Runs = 5;

    static void Report(string what, Func<long> run)
    {
        run();  // warm-up: both readers are jitted before they are timed
        var times = new List<double>();
        long allocated = 0;
        for (int i = 0; i < Runs; i++)
        {
            GC.Collect();
            long before = GC.GetTotalAllocatedBytes(true);
            var clock = Stopwatch.StartNew();
            long check = run();
            times.Add(clock.Elapsed.TotalSeconds);
            allocated = GC.GetTotalAllocatedBytes(true) - before;
            if (check < 0) throw new InvalidOperationException(what);
        }
        times.Sort();
        Console.WriteLine($"{what,-58} {times[Runs / 2],7:F3} s  {allocated / 1048576.0,8:F1} MB");
    }

    // ---- JSON ----

    public static int Json(string fixture, int count)
    {
        // The fixture's values as Dragonflow stores them (Python's json.dumps), repeated to count.
        var distinct = File.ReadLines(fixture).Where(l => l.Contains("\"value\""))
            .Select(l => NbJson.Serialize(((NbObject)NbJson.Parse(Encoding.UTF8.GetBytes(l)))["value"])).ToArray();
        var values = Enumerable.Range(0, count).Select(i => distinct[i % distinct.Length]).ToArray();
        Console.WriteLine($"{count} NB values ({distinct.Length} distinct from the Pike sample), {values.Sum(v => (long)v.Length) / 1048576.0:F1} MB");

        Report("NbJson.Parse (objects, and whether as Python wrote them)", () => values.Sum(v => NbJson.Parse(v) is NbObject o ? o.Count : 0L));
        Report("Utf8JsonReader to the same objects", () => values.Sum(v => ReadWithUtf8JsonReader(v) is NbObject o ? o.Count : 0L));
        Report("Utf8JsonReader to the same objects + as Python wrote them", () => values.Sum(v =>
            ReadWithUtf8JsonReader(v) is NbObject o && NbJson.Serialize(o).AsSpan().SequenceEqual(v) ? o.Count : 0L));
        Report("JsonDocument.Parse (no objects built)", () => values.Sum(v => { using (var d = JsonDocument.Parse(v)) return (long)d.RootElement.GetArrayLengthOrCount(); }));
        Report("NbJson as the validator reads (members named twice kept)", () => values.Sum(v => NbJson.ParseAllMembers(v, out _) is NbObject o ? o.Count : 0L));
        Report("StoredValue.Problem (well-formed? Utf8JsonReader, no values)", () => values.Sum(v => StoredValue.Problem(v) == null ? 1L : 0L));
        Report("Utf8JsonReader tokens only (the floor)", () => values.Sum(v =>
        {
            var r = new Utf8JsonReader(v);
            long n = 0;
            while (r.Read()) n++;
            return n;
        }));
        return 0;
    }

    static long GetArrayLengthOrCount(this JsonElement e) => e.ValueKind == JsonValueKind.Object ? e.EnumerateObject().Count() : 0;

    // The values NbJson gives (NbObject, List<object>, string, long, BigInteger, double, bool, null) from Utf8JsonReader.
    static object ReadWithUtf8JsonReader(byte[] utf8)
    {
        var r = new Utf8JsonReader(utf8, new JsonReaderOptions { MaxDepth = 64 });
        r.Read();
        return Value(ref r);
    }

    static object Value(ref Utf8JsonReader r)
    {
        switch (r.TokenType)
        {
            case JsonTokenType.StartObject:
                var o = new NbObject();
                while (r.Read() && r.TokenType == JsonTokenType.PropertyName)
                {
                    string name = r.GetString();
                    r.Read();
                    o[name] = Value(ref r);
                }
                return o;
            case JsonTokenType.StartArray:
                var list = new List<object>();
                while (r.Read() && r.TokenType != JsonTokenType.EndArray) list.Add(Value(ref r));
                return list;
            case JsonTokenType.String: return r.GetString();
            case JsonTokenType.True: return true;
            case JsonTokenType.False: return false;
            case JsonTokenType.Null: return null;
            case JsonTokenType.Number:
                if (r.TryGetInt64(out long l)) return l;
                var text = Encoding.ASCII.GetString(r.ValueSpan);
                return text.IndexOfAny(new[] { '.', 'e', 'E' }) < 0 ? BigInteger.Parse(text, CultureInfo.InvariantCulture) : (object)r.GetDouble();
            default: throw new FormatException(r.TokenType.ToString());
        }
    }

    // ---- RESP ----

    public static int Resp(string endpoint, int db, int count)
    {
        string host = endpoint.Split(':')[0];
        int port = int.Parse(endpoint.Split(':')[1]);
        var keys = Enumerable.Range(0, count).Select(i => $"{{lport.{i % 50:x32}}}.{Guid.NewGuid()}").ToArray();
        var value = NbJson.Serialize(NbJson.Parse(Encoding.UTF8.GetBytes(
            "{\"id\": \"p\", \"topic\": \"t\", \"name\": \"port-1\", \"version\": 3, \"macs\": [\"fa:16:3e:00:00:01\"], \"ips\": [\"10.0.0.3\"], " +
            "\"device_owner\": \"compute:nova\", \"binding\": {\"type\": \"local\", \"chassis\": \"compute-1\"}, \"enabled\": true}")));
        using (var mux = ConnectionMultiplexer.Connect($"{endpoint},allowAdmin=true"))
        {
            var redis = mux.GetDatabase(db);
            mux.GetServer(endpoint).FlushDatabase(db);
            foreach (var batch in keys.Chunk(1000))
                redis.StringSet(batch.Select(k => new KeyValuePair<RedisKey, RedisValue>(k, value)).ToArray());
            Console.WriteLine($"{count} keys of {value.Length} bytes in Redis database {db}; MGET batches of 1000, all in flight");

            Report("RespConnection (the store's own), values in a ByteArena", () =>
            {
                using (var c = RespConnection.Open(host, port, null, null, db, TimeSpan.FromSeconds(10)))
                {
                    var arena = new ByteArena();
                    var batches = keys.Chunk(1000).ToArray();
                    foreach (var batch in batches)
                    {
                        c.Array(batch.Length + 1);
                        c.Bulk("MGET");
                        foreach (var k in batch) c.Bulk(k);
                    }
                    c.Flush();
                    long bytes = 0;
                    foreach (var batch in batches)
                    {
                        long n = c.ReadArrayLength();
                        for (long i = 0; i < n; i++) if (c.TryReadBulk(arena, out var v)) bytes += v.Length;
                    }
                    return bytes;
                }
            });
            Report("StackExchange.Redis StringGetAsync(keys[]), values as byte[]", () =>
            {
                var tasks = keys.Chunk(1000).Select(batch => redis.StringGetAsync(batch.Select(k => (RedisKey)k).ToArray())).ToArray();
                Task.WaitAll(tasks);
                long bytes = 0;
                foreach (var t in tasks) foreach (var v in t.Result) bytes += ((byte[])v).Length;
                return bytes;
            });
            mux.GetServer(endpoint).FlushDatabase(db);
        }
        return 0;
    }
}
