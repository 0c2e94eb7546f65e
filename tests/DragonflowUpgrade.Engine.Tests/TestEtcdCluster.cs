using System;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Net.Http;
using System.Text;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;

namespace DragonflowUpgrade.Engine.Tests
{
    /// <summary>
    /// The three-member etcd cluster started by build.ps1 (DF_TEST_ETCD_CLUSTER, etcd://a,b,c):
    /// its members by index, killed (SIGKILL) and started again on their data by the fault tests,
    /// which leave it healthy.
    /// </summary>
    static class TestEtcdCluster
    {
        static readonly HttpClient Http = new HttpClient(new HttpClientHandler { UseProxy = false }) { Timeout = TimeSpan.FromSeconds(10) };

        public static string Uri =>
            Environment.GetEnvironmentVariable("DF_TEST_ETCD_CLUSTER")
            ?? throw new InvalidOperationException("DF_TEST_ETCD_CLUSTER is not set: run the tests through 'build.ps1 Test', which starts the etcd cluster.");

        // Where the member<i>.pid and member<i>.sh files are.
        static string State =>
            Environment.GetEnvironmentVariable("DF_TEST_ETCD_CLUSTER_STATE")
            ?? throw new InvalidOperationException("DF_TEST_ETCD_CLUSTER_STATE is not set: run the tests through 'build.ps1 Test', which starts the etcd cluster.");

        /// <summary>host:port of each member, by index.</summary>
        public static string[] Members => Uri.Substring("etcd://".Length).Split(',');

        /// <summary>The URI listing the members in this order.</summary>
        public static string UriOf(params int[] members) => "etcd://" + string.Join(",", members.Select(i => Members[i]));

        /// <summary>Deletes every key (waiting for a healthy cluster first) and returns the cluster's URI.</summary>
        public static string NewDatabase()
        {
            WaitHealthy();
            Call(Members[0], "kv/deleterange", new { key = B64("\0"), range_end = B64("\0") });
            return Uri;
        }

        /// <summary>The index of the member that leads the cluster now.</summary>
        public static int Leader()
        {
            WaitHealthy();
            var status = Call(Members[0], "maintenance/status", new { });
            string leader = status.GetProperty("leader").GetString();
            for (int i = 0; i < Members.Length; i++)
                if (Call(Members[i], "maintenance/status", new { }).GetProperty("header").GetProperty("member_id").GetString() == leader) return i;
            throw new InvalidOperationException("No member of the test etcd cluster is its leader.");
        }

        static string PidFile(int member) => Path.Combine(State, $"member{member}.pid");

        /// <summary>Kills the member's etcd (SIGKILL) and waits until it is gone.</summary>
        public static void Kill(int member)
        {
            using (var p = Process.GetProcessById(int.Parse(File.ReadAllText(PidFile(member)).Trim())))
            {
                p.Kill();
                p.WaitForExit();
            }
        }

        public static bool IsRunning(int member)
        {
            try { using (var p = Process.GetProcessById(int.Parse(File.ReadAllText(PidFile(member)).Trim()))) return !p.HasExited; }
            catch (ArgumentException) { return false; }
        }

        /// <summary>Starts killed members again on their data (the build stops them by their pid files), and waits until the running members are healthy.</summary>
        public static void Restart(params int[] members)
        {
            foreach (int member in members)
            {
                if (IsRunning(member)) continue;
                // member<i>.sh execs etcd: the shell's process is etcd's.
                var p = Process.Start(new ProcessStartInfo("/bin/sh", Path.Combine(State, $"member{member}.sh")) { UseShellExecute = false });
                File.WriteAllText(PidFile(member), p.Id.ToString());
            }
            WaitHealthy(all: false);
        }

        /// <summary>Waits until every member (<paramref name="all"/> false: every running one) answers healthy (a leader elected, reads served).</summary>
        public static void WaitHealthy(bool all = true)
        {
            var deadline = DateTime.UtcNow.AddSeconds(30);
            for (int i = 0; i < Members.Length; i++)
            {
                if (!IsRunning(i) && !all) continue;
                if (!IsRunning(i)) throw new InvalidOperationException($"Member {i} of the test etcd cluster is not running: a test killed it and did not start it again.");
                while (!Healthy(Members[i]))
                {
                    if (DateTime.UtcNow > deadline) throw new TimeoutException($"The test etcd cluster's member {Members[i]} is not healthy after 30 s.");
                    Thread.Sleep(50);
                }
            }
        }

        static bool Healthy(string member)
        {
            try { return Http.GetStringAsync($"http://{member}/health").GetAwaiter().GetResult().Contains("\"true\""); }
            catch (Exception e) when (e is HttpRequestException || e is TaskCanceledException) { return false; }
        }

        static string B64(string s) => Convert.ToBase64String(Encoding.UTF8.GetBytes(s));

        static JsonElement Call(string member, string path, object body)
        {
            var content = new StringContent(JsonSerializer.Serialize(body), Encoding.UTF8, "application/json");
            using (var response = Http.PostAsync($"http://{member}/v3/{path}", content).GetAwaiter().GetResult())
            {
                string text = response.Content.ReadAsStringAsync().GetAwaiter().GetResult();
                if (!response.IsSuccessStatusCode) throw new InvalidOperationException($"etcd {member} {path}: {text}");
                using (var doc = JsonDocument.Parse(text)) return doc.RootElement.Clone();
            }
        }
    }
}
