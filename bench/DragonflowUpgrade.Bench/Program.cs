using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using System.Threading;
using DragonflowUpgrade.Engine.Json;
using DragonflowUpgrade.Engine.Store;

// The NB migration benchmark's steps, each in a process of its own:
//   generate <pike.jsonl> <count> <dir>   the Pike sample scaled to about <count> objects, as RESP commands:
//                                         set.resp (a SET per key) and get.resp (a GET per key); prints objects and bytes of values
//   floor <host:port> <db> <file.resp>    sends every command of the file over one socket while a second thread reads
//                                         the replies; prints seconds (the raw floor: pipelined SETs, or pipelined GETs)
//   copy <from> <to>                      copies every object from one NB database to another (through the stores' batched writes)
//   clear <database>                      deletes every object of an NB database
//   json, resp                            the engine's own readers against the general ones (ReaderBench.cs)
static class Program
{
    static int Main(string[] args)
    {
        switch (args[0])
        {
            case "generate": return Generate(args[1], int.Parse(args[2]), args[3]);
            case "floor": return Floor(args[1], int.Parse(args[2]), args[3]);
            case "copy": return Copy(args[1], args[2]);
            case "clear": return Clear(args[1]);
            case "json": return ReaderBench.Json(args[1], int.Parse(args[2]));
            case "resp": return ReaderBench.Resp(args[1], int.Parse(args[2]), int.Parse(args[3]));
            default:
                Console.Error.WriteLine("usage: generate <pike.jsonl> <count> <dir> | floor <host:port> <db> <file.resp> | copy <from> <to> | clear <database> | json <fixture.jsonl> <count> | resp <host:port> <db> <count>");
                return 2;
        }
    }

    // ---- The data: the Pike sample, copied until there are <count> objects ----

    // Each copy of the sample gets its own ids and tenants, and its references follow them: in every
    // line, each UUID and each tenant (32 hex digits) has its last 12 digits replaced by the copy's
    // number, and each chassis name gets the copy's number as a suffix. unique_key (a counter per
    // table) is written once.
    static readonly Regex Ids = new Regex(@"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|(?<![0-9a-f])[0-9a-f]{32}(?![0-9a-f])", RegexOptions.Compiled);

    static int Generate(string fixture, int count, string dir)
    {
        var lines = File.ReadLines(fixture).Where(l => l.Contains("\"value\"")).ToList();
        var chassis = lines.Where(l => l.StartsWith("{\"table\":\"chassis\"", StringComparison.Ordinal))
            .Select(l => (string)((NbObject)NbJson.Parse(Encoding.UTF8.GetBytes(l)))["id"]).ToList();
        var once = lines.Where(l => l.StartsWith("{\"table\":\"unique_key\"", StringComparison.Ordinal)).ToList();
        var copied = lines.Except(once).ToList();
        // A line as fixed text and the places where a copy's number goes (after each cut).
        var templates = copied.Select(l => Template(l, chassis)).ToList();

        long objects = 0, bytes = 0;
        using (var set = new BufferedStream(File.Create(Path.Combine(dir, "set.resp")), 1 << 20))
        using (var get = new BufferedStream(File.Create(Path.Combine(dir, "get.resp")), 1 << 20))
        {
            void Emit(string line)
            {
                var o = (NbObject)NbJson.Parse(Encoding.UTF8.GetBytes(line));
                var key = RedisNbStore.FormatKey(new NbKey((string)o["table"], o["topic"] as string, (string)o["id"]));
                var value = NbJson.Serialize(o["value"]);
                Resp(set, Encoding.UTF8.GetBytes("SET"), Encoding.UTF8.GetBytes(key), value);
                Resp(get, Encoding.UTF8.GetBytes("GET"), Encoding.UTF8.GetBytes(key));
                objects++;
                bytes += value.Length;
            }
            foreach (var line in once) Emit(line);
            var text = new StringBuilder();
            for (long copy = 0; objects < count; copy++)
            {
                string number = copy.ToString("x12"), suffix = "-c" + copy.ToString(CultureInfo.InvariantCulture);
                foreach (var (parts, marks) in templates)
                {
                    if (objects >= count) break;
                    text.Clear();
                    for (int i = 0; i < parts.Count; i++)
                    {
                        text.Append(parts[i]);
                        if (i < marks.Count) text.Append(marks[i] ? number : suffix);
                    }
                    Emit(text.ToString());
                }
            }
        }
        Console.WriteLine($"{objects} {bytes}");
        return 0;
    }

    // The line cut where a copy's number goes: after each UUID's or tenant's first digits (true:
    // replaces the last 12), and after each chassis name (false: a suffix).
    static (List<string> Parts, List<bool> Marks) Template(string line, List<string> chassis)
    {
        var cuts = new List<(int At, int Skip, bool Id)>();
        foreach (Match m in Ids.Matches(line)) cuts.Add((m.Index + m.Length - 12, 12, true));
        foreach (var name in chassis)
            for (int at = line.IndexOf(name + "\"", StringComparison.Ordinal); at >= 0; at = line.IndexOf(name + "\"", at + 1, StringComparison.Ordinal))
                cuts.Add((at + name.Length, 0, false));
        cuts.Sort((a, b) => a.At.CompareTo(b.At));
        var parts = new List<string>();
        int from = 0;
        foreach (var c in cuts)
        {
            parts.Add(line.Substring(from, c.At - from));
            from = c.At + c.Skip;
        }
        parts.Add(line.Substring(from));
        return (parts, cuts.Select(c => c.Id).ToList());
    }

    static void Resp(Stream s, params byte[][] parts)
    {
        var head = Encoding.ASCII.GetBytes($"*{parts.Length}\r\n");
        s.Write(head, 0, head.Length);
        foreach (var p in parts)
        {
            var len = Encoding.ASCII.GetBytes($"${p.Length}\r\n");
            s.Write(len, 0, len.Length);
            s.Write(p, 0, p.Length);
            s.WriteByte((byte)'\r');
            s.WriteByte((byte)'\n');
        }
    }

    // ---- The raw floor ----

    // Every command of the file down one socket, as fast as Redis takes them, while another thread
    // reads (and skips) every reply. Nothing is parsed beyond what counting replies needs.
    static int Floor(string endpoint, int db, string file)
    {
        var (host, port) = (endpoint.Split(':')[0], int.Parse(endpoint.Split(':')[1]));
        long commands = CountCommands(file);
        using (var client = new TcpClient(host, port) { NoDelay = true })
        {
            var stream = client.GetStream();
            var reader = new BufferedStream(stream, 1 << 20);
            var select = Encoding.ASCII.GetBytes($"*2\r\n$6\r\nSELECT\r\n${db.ToString().Length}\r\n{db}\r\n");
            stream.Write(select, 0, select.Length);
            SkipReply(reader);
            var clock = Stopwatch.StartNew();
            var replies = new Thread(() => { for (long i = 0; i < commands; i++) SkipReply(reader); });
            replies.Start();
            using (var input = File.OpenRead(file)) input.CopyTo(stream, 1 << 20);
            replies.Join();
            Console.WriteLine(clock.Elapsed.TotalSeconds.ToString("F3", CultureInfo.InvariantCulture));
        }
        return 0;
    }

    static long CountCommands(string file)
    {
        // Each command is "*n\r\n" then n "$len\r\n<bytes>\r\n".
        long count = 0;
        using (var s = new BufferedStream(File.OpenRead(file), 1 << 20))
            while (s.ReadByte() == '*')
            {
                count++;
                long n = ReadNumber(s);
                for (long i = 0; i < n; i++)
                {
                    s.ReadByte();  // '$'
                    long len = ReadNumber(s);
                    s.Seek(len + 2, SeekOrigin.Current);
                }
            }
        return count;
    }

    static void SkipReply(Stream s)
    {
        int type = s.ReadByte();
        switch (type)
        {
            case '+': case ':': ReadLine(s); break;
            case '-': throw new IOException("Redis: " + ReadLine(s));
            case '$':
                long len = ReadNumber(s);
                if (len >= 0) { Skip(s, len + 2); }
                break;
            case '*':
                long n = ReadNumber(s);
                for (long i = 0; i < n; i++) SkipReply(s);
                break;
            default: throw new IOException($"Unexpected reply byte {type}.");
        }
    }

    static readonly byte[] Scratch = new byte[1 << 16];

    static void Skip(Stream s, long n)
    {
        while (n > 0)
        {
            int read = s.Read(Scratch, 0, (int)Math.Min(n, Scratch.Length));
            if (read <= 0) throw new EndOfStreamException();
            n -= read;
        }
    }

    static string ReadLine(Stream s)
    {
        var sb = new StringBuilder();
        for (int b = s.ReadByte(); b != '\r'; b = s.ReadByte())
        {
            if (b < 0) throw new EndOfStreamException();
            sb.Append((char)b);
        }
        s.ReadByte();
        return sb.ToString();
    }

    static long ReadNumber(Stream s) => long.Parse(ReadLine(s), CultureInfo.InvariantCulture);

    // ---- Other stores ----

    static int Copy(string from, string to)
    {
        using (var source = NbStoreFactory.Open(from))
        using (var target = NbStoreFactory.IsFile(to) ? new FileNbStore(to, create: true) : NbStoreFactory.Open(to))
            target.Write(source.Read().ToList());
        return 0;
    }

    static int Clear(string database)
    {
        using (var store = NbStoreFactory.Open(database))
            store.Write(store.ReadKeys().ToList().Select(NbEntry.Delete).ToList());
        return 0;
    }
}
