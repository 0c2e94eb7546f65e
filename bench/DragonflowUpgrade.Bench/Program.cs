using System;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Text;
using DragonflowUpgrade.Engine.Migrations;
using DragonflowUpgrade.Engine.Store;

// The NB migration benchmark's steps, each run in a process of its own so that peak memory is the step's:
//   generate <dir> <count>    write the data set as redis-cli --pipe input (set.resp: SETs; get.resp: MGETs of 1000 keys); prints its size
//   migrate <redis-uri>       apply a C# migration touching every port; prints seconds and peak memory
//   plan <redis-uri>          the same with nothing pending; prints seconds
//   json, resp                the engine's own readers against the general ones (ReaderBench.cs)
static class Program
{
    static int Main(string[] args)
    {
        switch (args[0])
        {
            case "generate": return Generate(args[1], int.Parse(args[2]));
            case "migrate": return Migrate(args[1]);
            case "plan": return Migrate(args[1]);
            case "json": return ReaderBench.Json(args[1], int.Parse(args[2]));
            case "resp": return ReaderBench.Resp(args[1], int.Parse(args[2]), int.Parse(args[3]));
            default: Console.Error.WriteLine("usage: generate <dir> <count> | migrate <uri> | plan <uri> | json <fixture.jsonl> <count> | resp <host:port> <db> <count>"); return 2;
        }
    }

    static readonly Migration FlagPorts = new Migration("bench-flag-ports", "bench", "Flag every compute port",
        DateTimeOffset.Parse("2017-09-01T00:00:00Z"), null, null, "bench", nb =>
        {
            foreach (var port in nb.GetAll("lport"))
            {
                port["flag"] = (string)port["device_owner"] == "compute:nova";
                nb.Update("lport", port);
            }
        });

    static int Migrate(string uri)
    {
        var clock = Stopwatch.StartNew();
        long before;
        using (var store = NbStoreFactory.Open(uri))
        {
            // Growth is measured from here: the runtime and the Redis connection are fixed costs.
            before = Environment.WorkingSet;
            var migrator = new Migrator(store, new MigrationCatalog(new[] { FlagPorts }), new StderrLogger());
            var plan = migrator.Plan();
            if (plan.Pending.Count > 0) migrator.Commit(migrator.Run(plan.Pending));
        }
        clock.Stop();
        using (var self = Process.GetCurrentProcess())
            Console.WriteLine($"{clock.Elapsed.TotalSeconds:F3} {self.PeakWorkingSet64 - before}");
        if (Environment.GetEnvironmentVariable("DF_BENCH_TRACE") != null)
            Console.Error.WriteLine($"GC: {GC.GetTotalPauseDuration().TotalMilliseconds:F0} ms paused; collections gen0 {GC.CollectionCount(0)}, gen1 {GC.CollectionCount(1)}, gen2 {GC.CollectionCount(2)}; {GC.GetTotalAllocatedBytes() / 1048576} MB allocated");
        return 0;
    }

    static int Generate(string dir, int count)
    {
        var random = new Random(42);
        long bytes = 0;
        using (var set = new BinaryWriter(File.Create(Path.Combine(dir, "set.resp"))))
        using (var get = new BinaryWriter(File.Create(Path.Combine(dir, "get.resp"))))
        {
            var getBatch = new System.Collections.Generic.List<string>();
            for (int i = 0; i < count; i++)
            {
                string topic = (i % 50).ToString("x32");
                string table; string json;
                string id = Guid.NewGuid().ToString();
                if (i % 5 < 3)
                {
                    table = "lport";
                    json = $"{{\"id\": \"{id}\", \"topic\": \"{topic}\", \"name\": \"port-{i}\", \"version\": {random.Next(1, 20)}, \"unique_key\": {i}, " +
                           $"\"lswitch\": \"{Guid.NewGuid()}\", \"macs\": [\"fa:16:3e:{random.Next(256):x2}:{random.Next(256):x2}:{random.Next(256):x2}\"], " +
                           $"\"ips\": [\"10.{i % 250}.{random.Next(250)}.{random.Next(250)}\"], \"subnets\": [\"{Guid.NewGuid()}\"], \"enabled\": true, " +
                           $"\"device_owner\": \"{(i % 3 == 0 ? "network:dhcp" : "compute:nova")}\", \"device_id\": \"{Guid.NewGuid()}\", " +
                           $"\"security_groups\": [\"{Guid.NewGuid()}\"], \"port_security_enabled\": true, \"allowed_address_pairs\": [], " +
                           $"\"binding\": {{\"type\": \"local\", \"chassis\": \"compute-{i % 400}\"}}, \"binding_vnic_type\": \"normal\", \"dhcp_params\": {{\"opts\": {{}}}}}}";
                }
                else if (i % 5 == 3)
                {
                    table = "lswitch";
                    json = $"{{\"id\": \"{id}\", \"topic\": \"{topic}\", \"name\": \"net-{i}\", \"version\": 3, \"unique_key\": {i}, \"is_external\": false, \"mtu\": 1450, " +
                           $"\"subnets\": [{{\"id\": \"{Guid.NewGuid()}\", \"topic\": \"{topic}\", \"name\": \"subnet-{i}\", \"enable_dhcp\": true, \"dhcp_ip\": \"10.0.0.2\", " +
                           $"\"cidr\": \"10.0.0.0/24\", \"gateway_ip\": \"10.0.0.1\", \"dns_nameservers\": [\"8.8.8.8\"], \"host_routes\": []}}], " +
                           $"\"network_type\": \"vxlan\", \"segmentation_id\": {1000 + i % 4000}}}";
                }
                else
                {
                    table = "lrouter";
                    json = $"{{\"id\": \"{id}\", \"topic\": \"{topic}\", \"name\": \"router-{i}\", \"version\": 2, \"unique_key\": {i}, \"routes\": [], " +
                           $"\"ports\": [{{\"id\": \"{Guid.NewGuid()}\", \"topic\": \"{topic}\", \"mac\": \"fa:16:3e:00:00:01\", \"network\": \"10.0.0.1/24\", \"lswitch\": \"{Guid.NewGuid()}\", \"unique_key\": {i}}}, " +
                           $"{{\"id\": \"{Guid.NewGuid()}\", \"topic\": \"{topic}\", \"mac\": \"fa:16:3e:00:00:02\", \"network\": \"10.1.0.1/24\", \"lswitch\": \"{Guid.NewGuid()}\", \"unique_key\": {i + 1}}}], " +
                           $"\"gateway\": {{\"network_id\": \"{Guid.NewGuid()}\", \"ip_address\": \"172.24.4.{i % 250}\"}}}}";
                }
                string key = RedisNbStore.FormatKey(new NbKey(table, topic, id));
                bytes += Encoding.UTF8.GetByteCount(json);
                Resp(set, "SET", key, json);
                getBatch.Add(key);
                if (getBatch.Count == 1000) { Resp(get, new[] { "MGET" }.Concat(getBatch).ToArray()); getBatch.Clear(); }
            }
            if (getBatch.Count > 0) Resp(get, new[] { "MGET" }.Concat(getBatch).ToArray());
        }
        Console.WriteLine(bytes);
        return 0;
    }

    static void Resp(BinaryWriter w, params string[] parts)
    {
        w.Write(Encoding.ASCII.GetBytes($"*{parts.Length}\r\n"));
        foreach (var p in parts)
        {
            var b = Encoding.UTF8.GetBytes(p);
            w.Write(Encoding.ASCII.GetBytes($"${b.Length}\r\n"));
            w.Write(b);
            w.Write(Encoding.ASCII.GetBytes("\r\n"));
        }
    }
}

sealed class StderrLogger : Microsoft.Extensions.Logging.ILogger
{
    readonly Stopwatch _clock = Stopwatch.StartNew();
    public IDisposable BeginScope<T>(T state) => null;
    public bool IsEnabled(Microsoft.Extensions.Logging.LogLevel level) => Environment.GetEnvironmentVariable("DF_BENCH_TRACE") != null;
    public void Log<T>(Microsoft.Extensions.Logging.LogLevel level, Microsoft.Extensions.Logging.EventId id, T state, Exception e, Func<T, Exception, string> format)
    {
        if (!IsEnabled(level)) return;
        using var self = Process.GetCurrentProcess();
        Console.Error.WriteLine($"{_clock.ElapsedMilliseconds,6} ms  {format(state, e)}  [GC paused {GC.GetTotalPauseDuration().TotalMilliseconds:F0} ms, " +
            $"{GC.GetTotalAllocatedBytes() >> 20} MB allocated; working set {Environment.WorkingSet >> 20} MB, peak {self.PeakWorkingSet64 >> 20} MB]");
    }
}
