using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Threading;
using Microsoft.Extensions.Logging;
using Xunit;

namespace DragonflowUpgrade.Remote.Tests
{
    public sealed class FanOutTests : IDisposable
    {
        readonly TestCloud _cloud = new TestCloud(db: 41, nodes: 6);

        public void Dispose() => _cloud.Dispose();

        /// <summary>The most commands that ran at the same moment, from the (begin, end) times each one wrote.</summary>
        static int MaxOverlap(IEnumerable<(double Begin, double End)> intervals)
        {
            var edges = intervals.SelectMany(i => new[] { (T: i.Begin, D: 1), (T: i.End, D: -1) }).OrderBy(e => e.T).ThenBy(e => e.D);
            int now = 0, max = 0;
            foreach (var e in edges) max = Math.Max(max, now += e.D);
            return max;
        }

        [Fact]
        public void No_more_nodes_than_the_throttle_limit_run_at_once()
        {
            const int throttle = 2;
            string dir = Directory.CreateDirectory(Path.Combine(_cloud.Dir, "overlap")).FullName;
            // Each node writes when its command began and ended. Between the two it waits until as
            // many commands run as the throttle allows (or every node has started), so the overlap
            // does not depend on how fast SSH connects on a loaded machine; then it stays 0.7 s more.
            string q = ShellQuote.Quote(dir);
            string command = $"f=$(mktemp -p {q} run.XXXXXX); echo $EPOCHREALTIME > \"$f\"; " +
                             $"for i in $(seq 1200); do s=$(ls {q} | grep -c '^run\\.[^.]*$'); d=$(ls {q} | grep -c '\\.done$'); " +
                             $"[ $((s - d)) -ge {throttle} ] || [ $s -ge {_cloud.Nodes.Count} ] && break; sleep 0.05; done; " +
                             "sleep 0.7; echo $EPOCHREALTIME >> \"$f\"; touch \"$f.done\"";
            var plane = new ControlPlane(TestCloud.Connector(), throttle, new ListLogger());
            var results = plane.Invoke(_cloud.Nodes, "bash -c " + ShellQuote.Quote(command)).ToList();

            Assert.Equal(_cloud.Nodes.Select(n => n.Name).OrderBy(n => n), results.Select(r => r.Node.Name).OrderBy(n => n));
            Assert.All(results, r => Assert.Equal(0, r.ExitCode));
            var intervals = Directory.GetFiles(dir).Where(f => !f.EndsWith(".done", StringComparison.Ordinal)).Select(f =>
            {
                var t = File.ReadAllLines(f).Select(l => double.Parse(l, CultureInfo.InvariantCulture)).ToArray();
                return (t[0], t[1]);
            }).ToList();
            Assert.Equal(6, intervals.Count);
            Assert.Equal(throttle, MaxOverlap(intervals));
        }

        [Fact]
        public void A_node_that_fails_gives_its_own_result_and_the_others_go_on()
        {
            var nodes = _cloud.Nodes.Take(3).Concat(new[] { new DfNode("down1", TestCloud.DownAddress, _cloud.Nodes[0].Port, _cloud.Nodes[0].User, TestCloud.UserKey, "down1", new[] { "compute" }, new NodeService[0]) }).ToList();
            var plane = new ControlPlane(TestCloud.Connector(), 4, new ListLogger());
            var results = plane.Invoke(nodes, $"case \"$SSH_CONNECTION\" in *' {nodes[1].Address} '*) exit 4;; esac; echo ok").ToDictionary(r => r.Node.Name);

            Assert.Equal(4, results.Count);
            Assert.Equal(("ok", 0), (results[nodes[0].Name].Output, results[nodes[0].Name].ExitCode.Value));
            Assert.Equal(4, results[nodes[1].Name].ExitCode);
            Assert.Equal(0, results[nodes[2].Name].ExitCode);
            Assert.Null(results["down1"].ExitCode);
            Assert.IsType<NodeConnectionException>(results["down1"].ConnectionError);
            Assert.Contains("connection refused", results["down1"].Failure);
        }

        [Fact]
        public void Results_and_the_workers_log_lines_arrive_on_the_enumerating_thread()
        {
            var log = new ListLogger();
            int me = Environment.CurrentManagedThreadId;
            var workerThreads = new HashSet<int>();
            var results = new List<(string, int)>();
            foreach (string r in NodeFanOut.Run(_cloud.Nodes, 3, log,
                (node, l, c) =>
                {
                    lock (workerThreads) workerThreads.Add(Environment.CurrentManagedThreadId);
                    l.LogInformation("working on {Node}", node.Name);
                    Thread.Sleep(50);
                    if (node.Name == _cloud.Nodes[2].Name) throw new InvalidOperationException("boom");
                    return node.Name;
                },
                (node, e) => node.Name + ": " + e.Message))
                results.Add((r, Environment.CurrentManagedThreadId));

            Assert.Equal(6, results.Count);
            Assert.All(results, r => Assert.Equal(me, r.Item2));
            Assert.Contains(($"{_cloud.Nodes[2].Name}: boom", me), results);
            Assert.Equal(6, log.Lines.Count);
            Assert.All(log.Lines, l => Assert.Equal(me, l.Thread));
            Assert.DoesNotContain(me, workerThreads);
            Assert.Equal(3, workerThreads.Count);
        }
    }
}
