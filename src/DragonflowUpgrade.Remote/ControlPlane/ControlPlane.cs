using DragonflowUpgrade.Engine;
using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Threading;
using DragonflowUpgrade.Engine.Store;
using Microsoft.Extensions.Logging;

namespace DragonflowUpgrade.Remote
{
    /// <summary>
    /// Stops and starts the cloud's control plane in order, on many nodes at once: a stop takes
    /// the Neutron servers down on every node first, then every Dragonflow service; a start
    /// brings the Dragonflow services up first, then the Neutron servers. Each phase runs on all
    /// nodes in parallel (up to the throttle limit) and a node that fails does not stop the
    /// others. With an NB database, the heartbeats tell whether it worked.
    /// </summary>
    public sealed class ControlPlane
    {
        readonly SshConnector _ssh;
        readonly int _throttleLimit;
        readonly ILogger _log;

        public ControlPlane(SshConnector ssh, int throttleLimit, ILogger log)
        {
            _ssh = ssh;
            _throttleLimit = throttleLimit;
            _log = log;
        }

        /// <summary>
        /// A node's services in the order <paramref name="action"/> takes them: a stop takes the
        /// Neutron servers down first, then the Dragonflow services, each kind in the reverse of
        /// the inventory's order; a start brings the Dragonflow services up first, in the
        /// inventory's order, then the Neutron servers.
        /// </summary>
        public static IEnumerable<NodeService> InOrder(DfNode node, ControlPlaneAction action) =>
            action == ControlPlaneAction.Stop
                ? node.ServicesOf(ServiceKind.Neutron).Reverse().Concat(node.ServicesOf(ServiceKind.Dragonflow).Reverse())
                : node.ServicesOf(ServiceKind.Dragonflow).Concat(node.ServicesOf(ServiceKind.Neutron));

        /// <summary>Runs one command on every node; a result per node, as each finishes (a node whose identity file is missing among them).</summary>
        public IEnumerable<NodeCommandResult> Invoke(IReadOnlyList<DfNode> nodes, string command, CancellationToken cancel = default) =>
            NodeFanOut.Run(nodes, _throttleLimit, _log,
                (node, log, c) =>
                {
                    using (var connection = _ssh.Connect(node, log, c))
                        return connection.Run(command, log, c);
                },
                (node, e) => NodeCommandResult.Unreachable(node, command, e, TimeSpan.Zero),
                cancel);

        /// <summary>Every service's state on every node, node by node as each answers.</summary>
        public IEnumerable<NodeStatus> GetStatus(IReadOnlyList<DfNode> nodes, CancellationToken cancel = default) =>
            NodeFanOut.Run(nodes, _throttleLimit, _log,
                (node, log, c) =>
                {
                    using (var connection = _ssh.Connect(node, log, c))
                    {
                        var statuses = node.Services.Select(s =>
                        {
                            var r = connection.Run(s.StatusCommand, log, c);
                            // A command that did not finish (timed out, cancelled) says why.
                            string detail = r.ExitCode == null && r.Failure != null ? r.Failure : r.Output.Length > 0 ? r.Output : r.Error;
                            return new ServiceStatusResult(node, s, ServiceStatusResult.Classify(r), r.ExitCode, detail);
                        }).ToList();
                        return new NodeStatus(node, statuses, null);
                    }
                },
                (node, e) => new NodeStatus(node,
                    node.Services.Select(s => new ServiceStatusResult(node, s, ServiceState.Unknown, null, e.Message)).ToList(), e),
                cancel);

        /// <summary>
        /// Stops the Neutron servers, then every Dragonflow service; then, given a database,
        /// waits until no service, listener or publisher row is alive.
        /// </summary>
        public ControlPlaneOutcome Stop(IReadOnlyList<DfNode> nodes, HeartbeatCheck? check, IProgress<ProgressReport> progress, CancellationToken cancel = default)
        {
            _ssh.CheckIdentityFiles(nodes); // a partial stop or start is worse than none
            var run = new Run(this, nodes, ControlPlaneAction.Stop, progress, cancel);
            run.Phase("Stopping the Neutron servers", ServiceKind.Neutron);
            run.Phase("Stopping the Dragonflow services", ServiceKind.Dragonflow);
            if (check == null) return run.Outcome(null, null);
            if (run.AnyFailed) return run.Outcome(null, null); // the rows of a node that did not stop would only time out
            return WaitUntilQuiet(run, check, progress, cancel);
        }

        /// <summary>
        /// Starts the Dragonflow services; given a database, waits until each one started has
        /// written a new heartbeat; then starts the Neutron servers.
        /// </summary>
        public ControlPlaneOutcome Start(IReadOnlyList<DfNode> nodes, HeartbeatCheck? check, IProgress<ProgressReport> progress, CancellationToken cancel = default)
        {
            _ssh.CheckIdentityFiles(nodes); // a partial stop or start is worse than none
            var run = new Run(this, nodes, ControlPlaneAction.Start, progress, cancel);
            Dictionary<(string, string), double>? before = null;
            string? failure = null;
            if (check != null)
            {
                try { before = LatestBeats(Heartbeats.ReadServices(check.Store)); }
                catch (NbStoreException e) { failure = "Cannot read the NB service table: " + e.Message; }
            }
            run.Phase("Starting the Dragonflow services", ServiceKind.Dragonflow);
            IReadOnlyList<Heartbeat>? missing = null;
            if (before != null) (missing, failure) = WaitUntilFresh(run, check!, before, progress, cancel);
            run.Phase("Starting the Neutron servers", ServiceKind.Neutron);
            return run.Outcome(missing, failure);
        }

        ControlPlaneOutcome WaitUntilQuiet(Run run, HeartbeatCheck check, IProgress<ProgressReport> progress, CancellationToken cancel)
        {
            const string activity = "Waiting for the NB heartbeats to stop";
            var sw = Stopwatch.StartNew();
            while (true)
            {
                IReadOnlyList<Heartbeat> alive;
                double now;
                try
                {
                    now = Heartbeats.Now();
                    alive = Heartbeats.ReadAll(check.Store).Where(h => h.IsAlive(now, check.DownTime)).ToList();
                }
                catch (NbStoreException e) { return run.Outcome(null, "Cannot read the NB heartbeat tables: " + e.Message); }
                if (alive.Count == 0)
                {
                    _log.LogInformation("No service, listener or publisher row of the NB database has a heartbeat newer than {DownTime} s.", check.DownTime.TotalSeconds);
                    return run.Outcome(null, null);
                }
                string list = Summary(alive.Select(h => h.Describe(now)));
                if (sw.Elapsed >= check.Timeout)
                    return run.Outcome(alive, $"{alive.Count} NB heartbeat row(s) still alive {check.Timeout.TotalSeconds:0} s after the stop: {list}. Something still runs there: stop it, then check again.");
                progress?.Report(new ProgressReport(activity, $"{alive.Count} still alive: {list}", -1));
                _log.LogDebug("Still alive: {List}", list);
                Sleep(check, cancel);
            }
        }

        (IReadOnlyList<Heartbeat>?, string?) WaitUntilFresh(Run run, HeartbeatCheck check, Dictionary<(string, string), double> before, IProgress<ProgressReport> progress, CancellationToken cancel)
        {
            const string activity = "Waiting for the Dragonflow services' first heartbeats";
            var expected = run.Started(ServiceKind.Dragonflow).Where(s => s.Service.Heartbeat)
                .Select(s => (s.Node.Chassis, s.Service.Name)).Distinct().ToList();
            var sw = Stopwatch.StartNew();
            while (true)
            {
                Dictionary<(string, string), double> now;
                try { now = LatestBeats(Heartbeats.ReadServices(check.Store)); }
                catch (NbStoreException e) { return (null, "Cannot read the NB service table: " + e.Message); }
                var missing = expected.Where(k => !now.TryGetValue(k, out double t) || (before.TryGetValue(k, out double b) && t <= b)).ToList();
                if (missing.Count == 0)
                {
                    _log.LogInformation("Every started Dragonflow service ({Count}) has a fresh heartbeat.", expected.Count);
                    return (null, null);
                }
                string list = Summary(missing.Select(k => $"{k.Item2} on {k.Item1}"));
                if (sw.Elapsed >= check.Timeout)
                {
                    var rows = missing.Select(k => new Heartbeat("service", null, k.Item1, k.Item2, now.TryGetValue(k, out double t) ? t : (double?)null)).ToList();
                    return (rows, $"{missing.Count} started Dragonflow service(s) wrote no new heartbeat in the NB service table within {check.Timeout.TotalSeconds:0} s: {list}. Check their logs on those nodes.");
                }
                progress?.Report(new ProgressReport(activity, $"{missing.Count} of {expected.Count} still silent: {list}", 100 * (expected.Count - missing.Count) / expected.Count));
                Sleep(check, cancel);
            }
        }

        /// <summary>The first few items of a list, and how many more there are.</summary>
        static string Summary(IEnumerable<string> items, int max = 10)
        {
            var list = items.ToList();
            return string.Join(", ", list.Take(max)) + (list.Count > max ? $" and {list.Count - max} more" : "");
        }

        static void Sleep(HeartbeatCheck check, CancellationToken cancel)
        {
            if (cancel.WaitHandle.WaitOne(check.PollInterval)) cancel.ThrowIfCancellationRequested();
        }

        /// <summary>Each (chassis, binary)'s latest heartbeat.</summary>
        static Dictionary<(string, string), double> LatestBeats(IEnumerable<Heartbeat> rows)
        {
            var latest = new Dictionary<(string, string), double>();
            foreach (var h in rows)
            {
                if (h.Chassis == null || h.Binary == null || h.LastSeen == null) continue;
                var key = (h.Chassis, h.Binary);
                if (!latest.TryGetValue(key, out double t) || h.LastSeen.Value > t) latest[key] = h.LastSeen.Value;
            }
            return latest;
        }

        /// <summary>One stop or start: its phases' results, gathered per node.</summary>
        sealed class Run
        {
            readonly ControlPlane _owner;
            readonly IReadOnlyList<DfNode> _nodes;
            readonly ControlPlaneAction _action;
            readonly IProgress<ProgressReport> _progress;
            readonly CancellationToken _cancel;
            readonly Dictionary<DfNode, List<ServiceActionResult>> _services = new Dictionary<DfNode, List<ServiceActionResult>>();
            readonly Dictionary<DfNode, List<string>> _failures = new Dictionary<DfNode, List<string>>();
            readonly Dictionary<DfNode, TimeSpan> _durations = new Dictionary<DfNode, TimeSpan>();
            readonly Dictionary<DfNode, Exception> _unreachable = new Dictionary<DfNode, Exception>();

            public Run(ControlPlane owner, IReadOnlyList<DfNode> nodes, ControlPlaneAction action, IProgress<ProgressReport> progress, CancellationToken cancel)
            {
                _owner = owner;
                _nodes = nodes;
                _action = action;
                _progress = progress;
                _cancel = cancel;
                foreach (var n in nodes)
                {
                    _services[n] = new List<ServiceActionResult>();
                    _failures[n] = new List<string>();
                    _durations[n] = TimeSpan.Zero;
                }
            }

            public bool AnyFailed => _failures.Values.Any(f => f.Count > 0);

            public IEnumerable<(DfNode Node, NodeService Service)> Started(ServiceKind kind) =>
                _services.SelectMany(p => p.Value.Where(s => s.Succeeded && s.Service.Kind == kind).Select(s => (p.Key, s.Service)));

            /// <summary>Acts on one kind of service on every node that has one (and was reachable so far).</summary>
            public void Phase(string activity, ServiceKind kind)
            {
                var targets = _nodes.Where(n => !_unreachable.ContainsKey(n) && n.Services.Any(s => s.Kind == kind)).ToList();
                if (targets.Count == 0) return;
                _owner._log.LogInformation("{Activity} on {Count} node(s).", activity, targets.Count);
                _progress?.Report(new ProgressReport(activity, $"0 of {targets.Count} nodes", 0));
                int done = 0;
                var results = NodeFanOut.Run(targets, _owner._throttleLimit, _owner._log,
                    (node, log, c) => Act(node, kind, log, c),
                    (node, e) => (node, (List<ServiceActionResult>?)null, (Exception?)e, TimeSpan.Zero),
                    _cancel);
                foreach (var (node, services, error, elapsed) in results)
                {
                    done++;
                    if (error != null)
                    {
                        _failures[node].Add(error.Message);
                        if (error is NodeConnectionException) _unreachable[node] = error;
                    }
                    else
                    {
                        _services[node].AddRange(services!);
                        _failures[node].AddRange(services!.Where(s => !s.Succeeded).Select(s => s.Result.Failure!));
                        _durations[node] += elapsed;
                    }
                    _progress?.Report(new ProgressReport(activity, $"{done} of {targets.Count} nodes; last: {node.Name}", 100 * done / targets.Count));
                }
            }

            (DfNode, List<ServiceActionResult>?, Exception?, TimeSpan) Act(DfNode node, ServiceKind kind, ILogger log, CancellationToken cancel)
            {
                var sw = Stopwatch.StartNew();
                var services = InOrder(node, _action).Where(s => s.Kind == kind).ToList();
                using (var connection = _owner._ssh.Connect(node, log, cancel))
                {
                    var results = new List<ServiceActionResult>();
                    foreach (var s in services)
                    {
                        string command = _action == ControlPlaneAction.Stop ? s.StopCommand : s.StartCommand;
                        results.Add(new ServiceActionResult(s, connection.Run(command, log, cancel)));
                    }
                    return (node, results, null, sw.Elapsed);
                }
            }

            public ControlPlaneOutcome Outcome(IReadOnlyList<Heartbeat>? atFault, string? heartbeatFailure) =>
                new ControlPlaneOutcome(_action,
                    _nodes.Select(n => new ControlPlaneNodeResult(n, _action, _services[n], _failures[n], _durations[n],
                                                                  _unreachable.TryGetValue(n, out var e) ? e : null)).ToList(),
                    atFault ?? new Heartbeat[0], heartbeatFailure);
        }
    }
}
