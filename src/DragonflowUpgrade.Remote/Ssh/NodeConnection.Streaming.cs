using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Net.Sockets;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Logging;
using Renci.SshNet.Common;

namespace DragonflowUpgrade.Remote
{
    public sealed partial class NodeConnection
    {
        /// <summary>How many of a command's last error lines a failure quotes.</summary>
        public const int ErrorLinesKept = 10;

        /// <summary>
        /// Runs a command and streams it: <paramref name="input"/> (or nothing: the command reads
        /// end of file at once) to its standard input; its standard output into
        /// <paramref name="output"/>, or else line by line to <paramref name="line"/>; its error
        /// output line by line to <paramref name="line"/> too. Nothing is held in memory but a
        /// buffer and the last <see cref="ErrorLinesKept"/> error lines, which the result's Error
        /// holds. <paramref name="shown"/> is the command as messages and logs show it, and
        /// <paramref name="secret"/> (when given) is replaced by *** in every line passed on.
        /// <paramref name="line"/> is called from other threads. Never throws for the command's own failure.
        /// </summary>
        public NodeCommandResult RunStreaming(string command, string shown, Stream? input, Stream? output, Action<string>? line,
            ILogger log, string? secret = null, CancellationToken cancel = default)
        {
            log.LogInformation("{Node}: {Command}", Node.Name, shown);
            // A secret of several lines reaches the output one line at a time: each of its lines is hidden too.
            string[] hidden = secret == null || secret.Length == 0 ? new string[0]
                : new[] { secret }.Concat(secret.Split('\r', '\n')).Where(part => part.Length > 0).Distinct().OrderByDescending(part => part.Length).ToArray();
            string Scrub(string s)
            {
                foreach (string h in hidden) s = s.Replace(h, "***");
                return s;
            }
            var lastErrors = new Queue<string>();
            var sw = Stopwatch.StartNew();
            string? failure = null;
            using (var cmd = _client.CreateCommand(command))
            {
                cmd.CommandTimeout = _commandTimeout;
                try
                {
                    Task run = cmd.ExecuteAsync(cancel);
                    Task feed = Task.Run(() =>
                    {
                        // A command that stops reading (it failed) closes the channel: its exit code tells why.
                        try { using (var stdin = cmd.CreateInputStream()) input?.CopyTo(stdin, 1 << 16); }
                        catch (Exception e) when (e is SshException || e is ObjectDisposedException || e is IOException || e is InvalidOperationException) { }
                    });
                    Task errors = Task.Run(() => ReadLines(cmd.ExtendedOutputStream, l =>
                    {
                        l = Scrub(l);
                        lock (lastErrors)
                        {
                            lastErrors.Enqueue(l);
                            if (lastErrors.Count > ErrorLinesKept) lastErrors.Dequeue();
                        }
                        line?.Invoke(l);
                    }));
                    if (output != null) cmd.OutputStream.CopyTo(output, 1 << 16);
                    else ReadLines(cmd.OutputStream, l => line?.Invoke(Scrub(l)));
                    run.GetAwaiter().GetResult();
                    Task.WaitAll(feed, errors);
                }
                catch (SshOperationTimeoutException)
                {
                    failure = $"{Node.Name}: the command timed out after {_commandTimeout.TotalSeconds:0} s: {shown}";
                }
                catch (OperationCanceledException)
                {
                    failure = $"{Node.Name}: the command was cancelled: {shown}";
                }
                catch (Exception e) when (e is SshException || e is SocketException || e is ObjectDisposedException)
                {
                    failure = $"{Node.Name}: the connection failed while running {shown}: {Scrub(e.Message)}";
                }
                catch (IOException e)
                {
                    // Writing the output failed (a full disk): the command's own result does not matter then.
                    failure = $"{Node.Name}: cannot store the output of {shown}: {e.Message}";
                    try { cmd.CancelAsync(); } catch (Exception) { }
                }
                sw.Stop();
                string error;
                lock (lastErrors) error = string.Join("\n", lastErrors);
                int? exit = failure == null ? cmd.ExitStatus : null;
                if (failure == null && exit == null)
                    failure = $"{Node.Name}: the command was killed by signal {cmd.ExitSignal ?? "?"}: {shown}";
                else if (failure == null && exit != 0)
                    failure = $"{Node.Name}: exit code {exit} from {shown}" + (error.Length > 0 ? "; its last error output:\n" + error : "");
                log.LogInformation("{Node}: exit {Exit} after {Seconds:0.00} s", Node.Name, exit?.ToString() ?? "none", sw.Elapsed.TotalSeconds);
                return new NodeCommandResult(Node, shown, exit, "", error, sw.Elapsed, failure);
            }
        }

        static void ReadLines(Stream stream, Action<string> line)
        {
            using (var reader = new StreamReader(stream, new UTF8Encoding(false), false, 1 << 14, leaveOpen: true))
            {
                string? l;
                while ((l = reader.ReadLine()) != null) line(l);
            }
        }
    }
}
