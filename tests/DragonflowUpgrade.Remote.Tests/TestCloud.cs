using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text.Json;
using System.Text.Json.Nodes;
using DragonflowUpgrade.Engine.Store;

[assembly: Xunit.CollectionBehavior(DisableTestParallelization = true)]

namespace DragonflowUpgrade.Remote.Tests
{
    /// <summary>
    /// The test nodes that tests/servers/sshd.server.ps1 started (one sshd per loopback address),
    /// with an inventory whose services are tests/fixtures/remote/df-test-service.sh writing
    /// heartbeats into one Redis database of the test Redis. Disposing kills whatever the test
    /// left running and empties the database.
    /// </summary>
    sealed class TestCloud : IDisposable
    {
        public static string SshDir => Env("DF_TEST_SSH_DIR");
        public static string Redis => Env("DF_TEST_REDIS");
        public static string KnownHostsPath => Path.Combine(SshDir, "known_hosts");
        public static string UserKey => Path.Combine(SshDir, "id_ed25519");

        /// <summary>An address on which no sshd listens.</summary>
        public const string DownAddress = "127.0.0.254";

        readonly int _db;

        public TestCloud(int db, int nodes = 3, double heartbeatInterval = 0.5, double startDelay = 0,
            string extraNodesJson = null, string servicesJson = null, bool firstBeatGate = false)
        {
            if (db < 40 || db > 51) throw new ArgumentOutOfRangeException(nameof(db), "The remote xunit tests use Redis databases 40-51.");
            _db = db;
            // Under the sshd state dir, whose Stop action kills whatever a test left running.
            Dir = Directory.CreateDirectory(Path.Combine(SshDir, "runs", "xunit-" + Guid.NewGuid().ToString("N").Substring(0, 8))).FullName;
            ServiceDir = Path.Combine(Dir, "services");
            Store = NbStoreFactory.Open($"redis://{Redis}/{db}");
            FlushDatabase();

            var cluster = JsonNode.Parse(File.ReadAllText(Path.Combine(SshDir, "nodes.json")));
            string script = ShellQuote.Quote(Path.Combine(RepoRoot, "tests", "fixtures", "remote", "df-test-service.sh"));
            string tail = $"{ShellQuote.Quote(ServiceDir)} {ShellQuote.Quote($"{Redis}/{db}")} {{node}} {{service}}";
            string env = string.Format(CultureInfo.InvariantCulture, "DF_TEST_HEARTBEAT_INTERVAL={0} DF_TEST_START_DELAY={1} DF_TEST_FIRST_BEAT_GATE={2}", heartbeatInterval, startDelay, firstBeatGate ? 1 : 0);
            var nodeList = new List<string>();
            var all = cluster["Nodes"].AsArray();
            if (nodes > all.Count) throw new InvalidOperationException($"{nodes} test nodes asked for, {all.Count} running.");
            for (int i = 0; i < nodes; i++)
                nodeList.Add($"{{\"Name\": {Json(all[i]["Name"].GetValue<string>())}, \"Address\": {Json(all[i]["Address"].GetValue<string>())}, \"Roles\": [{(i == 0 ? "\"controller\", \"compute\"" : "\"compute\"")}]}}");
            if (extraNodesJson != null) nodeList.Add(extraNodesJson);
            string json = $@"{{
  ""Defaults"": {{
    ""User"": {Json(cluster["User"].GetValue<string>())},
    ""Port"": {cluster["Port"].GetValue<int>()},
    ""IdentityFile"": {Json(UserKey)},
    ""Start"": {Json($"{env} bash {script} start {tail}")},
    ""Stop"": {Json($"bash {script} stop {tail}")},
    ""Status"": {Json($"bash {script} status {tail}")}
  }},
  ""Services"": {servicesJson ?? "{}"},
  ""Nodes"": [
    {string.Join(",\n    ", nodeList)}
  ]
}}";
            InventoryPath = Path.Combine(Dir, "inventory.json");
            File.WriteAllText(InventoryPath, json);
            Nodes = Inventory.LoadJson(InventoryPath);
        }

        public string Dir { get; }
        public string ServiceDir { get; }
        public string InventoryPath { get; }
        public IReadOnlyList<DfNode> Nodes { get; }
        public INbStore Store { get; }
        public string RedisUri => $"redis://{Redis}/{_db}";

        public static SshConnector Connector(bool acceptNew = false, string knownHosts = null) =>
            new SshConnector(new SshOptions { KnownHostsPath = knownHosts ?? KnownHostsPath, AcceptNewHostKey = acceptNew });

        /// <summary>The services' start, stop and first-beat events, in time order.</summary>
        public IReadOnlyList<ServiceEvent> Events()
        {
            string file = Path.Combine(ServiceDir, "events.log");
            if (!File.Exists(file)) return new ServiceEvent[0];
            return File.ReadAllLines(file).Where(l => l.Length > 0).Select(l =>
            {
                var p = l.Split(' ');
                return new ServiceEvent(double.Parse(p[0], CultureInfo.InvariantCulture), p[1], p[2], p[3]);
            }).OrderBy(e => e.Time).ToList();
        }

        /// <summary>With firstBeatGate, lets the started services write their first heartbeats.</summary>
        public void OpenFirstBeatGate()
        {
            Directory.CreateDirectory(ServiceDir);
            File.WriteAllText(Path.Combine(ServiceDir, "first-beat.open"), "");
        }

        /// <summary>Makes a running service ignore SIGTERM.</summary>
        public void RefuseStop(string node, string service)
        {
            Directory.CreateDirectory(Path.Combine(ServiceDir, node));
            File.WriteAllText(Path.Combine(ServiceDir, node, service + ".refuse-stop"), "");
        }

        /// <summary>Runs the fixture service script here, as a node would (e.g. a stray service no inventory lists).</summary>
        public int RunService(string action, string node, string service)
        {
            var psi = new ProcessStartInfo("bash") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (string a in new[] { Path.Combine(RepoRoot, "tests", "fixtures", "remote", "df-test-service.sh"), action, ServiceDir, $"{Redis}/{_db}", node, service })
                psi.ArgumentList.Add(a);
            psi.Environment["DF_TEST_HEARTBEAT_INTERVAL"] = "0.5";
            using (var p = Process.Start(psi))
            {
                p.StandardOutput.ReadToEnd();
                p.StandardError.ReadToEnd();
                p.WaitForExit();
                return p.ExitCode;
            }
        }

        /// <summary>Every key of the test's Redis database with its value as text, read through a connection of its own.</summary>
        public IReadOnlyDictionary<string, string> RawKeys()
        {
            using (var redis = StackExchange.Redis.ConnectionMultiplexer.Connect(Redis))
            {
                var db = redis.GetDatabase(_db);
                return redis.GetServer(redis.GetEndPoints()[0]).Keys(_db, "*").ToDictionary(k => (string)k, k => db.KeyType(k) == StackExchange.Redis.RedisType.String ? (string)db.StringGet(k) : null);
            }
        }

        // Empties the test's Redis database, through a connection of its own.
        void FlushDatabase()
        {
            using (var redis = StackExchange.Redis.ConnectionMultiplexer.Connect(Redis))
                redis.GetDatabase(_db).Execute("FLUSHDB");
        }

        public void Dispose()
        {
            if (Directory.Exists(ServiceDir))
                foreach (string pidFile in Directory.GetFiles(ServiceDir, "*.pid", SearchOption.AllDirectories))
                    if (int.TryParse(File.ReadAllText(pidFile).Trim(), out int pid))
                        try { using (var p = Process.GetProcessById(pid)) p.Kill(); } catch (Exception) { }
            try { FlushDatabase(); } catch (Exception) { }
            Store.Dispose();
            try { Directory.Delete(Dir, true); } catch (Exception) { }
        }

        static string Json(string s) => JsonSerializer.Serialize(s);

        static string Env(string name) =>
            Environment.GetEnvironmentVariable(name) is string v && v.Length > 0 ? v
                : throw new InvalidOperationException($"{name} is not set: these tests need the test servers that build.ps1 Test starts (tests/servers/*.server.ps1).");

        public static string RepoRoot
        {
            get
            {
                for (var d = new DirectoryInfo(AppContext.BaseDirectory); d != null; d = d.Parent)
                    if (File.Exists(Path.Combine(d.FullName, "DragonflowUpgrade.sln"))) return d.FullName;
                throw new InvalidOperationException("The repository root (DragonflowUpgrade.sln) is not above " + AppContext.BaseDirectory);
            }
        }
    }

    sealed class ServiceEvent
    {
        public ServiceEvent(double time, string node, string service, string what)
        {
            Time = time;
            Node = node;
            Service = service;
            What = what;
        }

        public double Time { get; }
        public string Node { get; }
        public string Service { get; }
        public string What { get; }
        public override string ToString() => $"{Time:0.000} {Node} {Service} {What}";
    }

    /// <summary>A logger that keeps what it is told, and on which thread.</summary>
    sealed class ListLogger : Microsoft.Extensions.Logging.ILogger
    {
        public readonly List<(string Message, int Thread)> Lines = new List<(string, int)>();
        public IDisposable BeginScope<TState>(TState state) => null;
        public bool IsEnabled(Microsoft.Extensions.Logging.LogLevel logLevel) => true;
        public void Log<TState>(Microsoft.Extensions.Logging.LogLevel logLevel, Microsoft.Extensions.Logging.EventId eventId, TState state, Exception exception, Func<TState, Exception, string> formatter)
        {
            lock (Lines) Lines.Add((formatter(state, exception), Environment.CurrentManagedThreadId));
        }
    }
}
