using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Threading;
using Microsoft.Extensions.Logging;

namespace DragonflowUpgrade.Remote
{
    /// <summary>
    /// Runs one piece of work per node on at most <c>throttleLimit</c> threads at once, and hands
    /// the results back on the thread that enumerates them, in the order they finish. The
    /// workers' log lines are queued and written to the caller's logger from that thread too, so
    /// a logger that must stay on one thread (a cmdlet's) can be passed in.
    /// </summary>
    public static class NodeFanOut
    {
        public static IEnumerable<T> Run<T>(IReadOnlyList<DfNode> nodes, int throttleLimit, ILogger logger,
            Func<DfNode, ILogger, CancellationToken, T> work, Func<DfNode, Exception, T> onFailure,
            CancellationToken cancel = default)
        {
            if (throttleLimit < 1) throw new ArgumentOutOfRangeException(nameof(throttleLimit), "The throttle limit must be at least 1.");
            if (nodes.Count == 0) yield break;

            var queue = new BlockingCollection<Action>();
            var results = new Queue<T>();
            var queuedLogger = new QueuedLogger(queue, logger);
            int next = -1;
            int running = Math.Min(throttleLimit, nodes.Count);
            using (var stop = CancellationTokenSource.CreateLinkedTokenSource(cancel))
            {
                var threads = new List<Thread>();
                for (int t = 0; t < running; t++)
                {
                    var thread = new Thread(() =>
                    {
                        try
                        {
                            int i;
                            while (!stop.IsCancellationRequested && (i = Interlocked.Increment(ref next)) < nodes.Count)
                            {
                                var node = nodes[i];
                                T result;
                                try { result = work(node, queuedLogger, stop.Token); }
                                catch (Exception e) when (!(e is OutOfMemoryException)) { result = onFailure(node, e); }
                                queue.Add(() => results.Enqueue(result));
                            }
                        }
                        finally
                        {
                            if (Interlocked.Decrement(ref running) == 0) queue.CompleteAdding();
                        }
                    }) { IsBackground = true, Name = "DfNodeFanOut" };
                    threads.Add(thread);
                }
                try
                {
                    foreach (var thread in threads) thread.Start();
                    foreach (var action in queue.GetConsumingEnumerable())
                    {
                        action();
                        while (results.Count > 0) yield return results.Dequeue();
                    }
                }
                finally
                {
                    // Stopped early (pipeline stopped, Ctrl+C): let the workers finish their node and go.
                    stop.Cancel();
                    foreach (var thread in threads) thread.Join();
                    queue.Dispose();
                }
            }
        }

        sealed class QueuedLogger : ILogger
        {
            readonly BlockingCollection<Action> _queue;
            readonly ILogger _target;

            public QueuedLogger(BlockingCollection<Action> queue, ILogger target)
            {
                _queue = queue;
                _target = target;
            }

            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => _target.IsEnabled(logLevel);

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                if (!_target.IsEnabled(logLevel)) return;
                string message = formatter(state, exception);
                try { _queue.Add(() => _target.Log(logLevel, eventId, message, exception, (m, _) => m)); }
                catch (InvalidOperationException) { } // the caller stopped listening
            }
        }
    }
}
