using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Net.Sockets;
using System.Threading;
using DragonflowUpgrade.Engine.Errors;
using Microsoft.Extensions.Logging;
using Renci.SshNet;
using Renci.SshNet.Common;

namespace DragonflowUpgrade.Remote
{
    /// <summary>
    /// Opens SSH connections to nodes with key authentication, checking host keys against
    /// known_hosts. One connector serves one operation on many nodes, from many threads: each
    /// thread reads an identity file once (a loaded key signs with state of its own, so threads
    /// do not share one).
    /// </summary>
    public sealed class SshConnector
    {
        static readonly string[] DefaultIdentityFiles = { "id_ed25519", "id_ecdsa", "id_rsa" };

        readonly SshOptions _options;
        readonly KnownHosts _knownHosts;
        readonly ConcurrentDictionary<string, Lazy<PrivateKeyFile>> _keys = new ConcurrentDictionary<string, Lazy<PrivateKeyFile>>(StringComparer.Ordinal);

        public SshConnector(SshOptions options)
        {
            _options = options ?? new SshOptions();
            _knownHosts = KnownHosts.Load(_options.KnownHostsPath);
        }

        public SshOptions Options => _options;

        /// <summary>Connects and logs in; throws <see cref="NodeConnectionException"/> (or <see cref="HostKeyRejectedException"/>) naming the node.</summary>
        public NodeConnection Connect(DfNode node, ILogger log, CancellationToken cancel = default)
        {
            string where = $"{node.Name} ({node.User}@{KnownHosts.HostName(node.Address, node.Port)})";
            var keys = IdentityFiles(node).Select(path => LoadKey(node, path)).ToArray();
            var info = new ConnectionInfo(node.Address, node.Port, node.User, new PrivateKeyAuthenticationMethod(node.User, keys))
            {
                Timeout = _options.ConnectTimeout,
            };
            PreferKnownKeyTypes(info, _knownHosts.KeyTypes(node.Address, node.Port));
            DeferSlowKeyExchange(info);

            string? rejected = null;
            var client = new SshClient(info);
            client.HostKeyReceived += (sender, e) =>
            {
                string fingerprint = KnownHosts.Fingerprint(e.HostKey);
                switch (_knownHosts.Check(node.Address, node.Port, e.HostKey, out int line))
                {
                    case HostKeyMatch.Known:
                        e.CanTrust = true;
                        break;
                    case HostKeyMatch.Unknown when _options.AcceptNewHostKey:
                        _knownHosts.Add(node.Address, node.Port, e.HostKey);
                        log.LogWarning("{Node}: recorded its new {Type} host key {Fingerprint} in {KnownHosts}.", node.Name, KnownHosts.KeyType(e.HostKey), fingerprint, _knownHosts.Path);
                        e.CanTrust = true;
                        break;
                    case HostKeyMatch.Unknown:
                        rejected = $"{where}: the host key {fingerprint} is not in {_knownHosts.Path}; refusing to connect. Add it there (ssh-keyscan), or pass -AcceptNewHostKey to record it.";
                        e.CanTrust = false;
                        break;
                    case HostKeyMatch.Changed:
                        rejected = $"{where}: the host key has CHANGED: {_knownHosts.Path} line {line} holds another {KnownHosts.KeyType(e.HostKey)} key, and the node offered {fingerprint}. Someone may be intercepting the connection, or the node was reinstalled; refusing to connect. Check the node, then fix that line.";
                        e.CanTrust = false;
                        break;
                    default:
                        rejected = $"{where}: the host key {fingerprint} is marked @revoked in {_knownHosts.Path} line {line}; refusing to connect.";
                        e.CanTrust = false;
                        break;
                }
            };

            log.LogDebug("{Node}: connecting to {Where}", node.Name, where);
            var sw = Stopwatch.StartNew();
            try
            {
                using (cancel.Register(() => client.Dispose()))
                    client.Connect();
                log.LogDebug("{Node}: connected in {Seconds:0.00} s", node.Name, sw.Elapsed.TotalSeconds);
                return new NodeConnection(node, client, _options.CommandTimeout);
            }
            catch (Exception e) when (!(e is OutOfMemoryException))
            {
                client.Dispose();
                cancel.ThrowIfCancellationRequested();
                if (rejected != null) throw new HostKeyRejectedException(node, rejected, e);
                throw new NodeConnectionException(node, $"{where}: cannot connect: {Describe(e)}", e);
            }
        }

        /// <summary>
        /// Checks, before anything runs anywhere, that every node's identity file exists: for a
        /// stop or start of the control plane, a typo in the inventory then stops the operation,
        /// rather than leaving some nodes stopped and the others running. Elsewhere a missing
        /// file fails its node alone, when <see cref="Connect"/> looks for it.
        /// </summary>
        public void CheckIdentityFiles(IEnumerable<DfNode> nodes)
        {
            foreach (var node in nodes)
                if (node.IdentityFile != null && !File.Exists(node.IdentityFile))
                    throw new DfException("IdentityFileNotFound", DfErrorCategory.ObjectNotFound,
                        $"{node.Name}: the identity file {node.IdentityFile} does not exist" +
                        (node.Inventory == null ? "" : $" (the node's IdentityFile in {node.Inventory})") + "; nothing was run on any node.",
                        node.Name, "Correct the node's IdentityFile in the inventory, or put the key there, then run the command again.");
        }

        static string Describe(Exception e)
        {
            switch (e)
            {
                case SocketException s when s.SocketErrorCode == SocketError.ConnectionRefused:
                    return "connection refused (is sshd running there, on that port?).";
                case SocketException s when s.SocketErrorCode == SocketError.TimedOut:
                case SshOperationTimeoutException _:
                    return "timed out (is the node up and the address right?).";
                case SocketException s:
                    return s.Message + ".";
                case SshAuthenticationException a:
                    return "authentication failed: " + a.Message + " Check the node's User and IdentityFile.";
                default:
                    return e.Message;
            }
        }

        IEnumerable<string> IdentityFiles(DfNode node)
        {
            if (node.IdentityFile != null)
            {
                if (!File.Exists(node.IdentityFile))
                    throw new NodeConnectionException(node, $"{node.Name}: the identity file {node.IdentityFile} does not exist" +
                        (node.Inventory == null ? "." : $" (the node's IdentityFile in {node.Inventory}).") + " Correct it, or put the key there.");
                return new[] { node.IdentityFile };
            }
            string dir = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".ssh");
            var found = DefaultIdentityFiles.Select(f => Path.Combine(dir, f)).Where(File.Exists).ToList();
            if (found.Count == 0)
                throw new NodeConnectionException(node, $"{node.Name}: no IdentityFile in the inventory and no default key ({string.Join(", ", DefaultIdentityFiles)}) in {dir}.");
            return found;
        }

        PrivateKeyFile LoadKey(DfNode node, string path)
        {
            var lazy = _keys.GetOrAdd(path + "\n" + Environment.CurrentManagedThreadId, _ => new Lazy<PrivateKeyFile>(() => ReadKey(path)));
            try { return lazy.Value; }
            catch (Exception e) { throw new NodeConnectionException(node, $"{node.Name}: {e.Message}", e); }
        }

        PrivateKeyFile ReadKey(string path)
        {
            try { return new PrivateKeyFile(path, _options.Passphrase); }
            catch (SshPassPhraseNullOrEmptyException e)
            {
                throw new InvalidOperationException($"the identity file {path} is encrypted: give its passphrase with -Credential.", e);
            }
            catch (Exception e) when (e is SshException || e is InvalidOperationException || e is ArgumentException || e is FormatException)
            {
                throw new InvalidOperationException($"cannot read the identity file {path}: {e.Message} (a wrong passphrase reads this way too).", e);
            }
        }

        /// <summary>Asks for a host key of a type known_hosts holds for the host, as OpenSSH does, so a known host is never "unknown".</summary>
        static void PreferKnownKeyTypes(ConnectionInfo info, IReadOnlyCollection<string> knownTypes)
        {
            if (knownTypes.Count == 0) return;
            var keep = info.HostKeyAlgorithms.Keys.Where(a => knownTypes.Contains(KeyTypeOfAlgorithm(a))).ToList();
            if (keep.Count == 0) return;
            foreach (string algorithm in info.HostKeyAlgorithms.Keys.ToList())
                if (!keep.Contains(algorithm)) info.HostKeyAlgorithms.Remove(algorithm);
        }

        /// <summary>
        /// Moves the sntrup761x25519 key exchanges last. SSH.NET computes them in managed code at
        /// 100-200 ms of CPU per connection (curve25519: about 10 ms), which caps how many nodes
        /// a 2-core operator machine can reach at once. The ML-KEM hybrid (mlkem768x25519,
        /// OpenSSH 9.9 and later) stays first, so post-quantum key exchange is still used
        /// wherever the node offers it; older nodes get curve25519.
        /// </summary>
        static void DeferSlowKeyExchange(ConnectionInfo info)
        {
            foreach (string name in info.KeyExchangeAlgorithms.Keys.Where(k => k.StartsWith("sntrup761", StringComparison.Ordinal)).ToList())
            {
                var factory = info.KeyExchangeAlgorithms[name];
                info.KeyExchangeAlgorithms.Remove(name);
                info.KeyExchangeAlgorithms.Add(name, factory);
            }
        }

        static string KeyTypeOfAlgorithm(string algorithm) =>
            algorithm == "rsa-sha2-256" || algorithm == "rsa-sha2-512" ? "ssh-rsa" : algorithm;
    }

    /// <summary>A logged-in SSH connection to one node, running one command at a time.</summary>
    public sealed partial class NodeConnection : IDisposable
    {
        readonly SshClient _client;
        readonly TimeSpan _commandTimeout;

        internal NodeConnection(DfNode node, SshClient client, TimeSpan commandTimeout)
        {
            Node = node;
            _client = client;
            _commandTimeout = commandTimeout;
        }

        public DfNode Node { get; }

        /// <summary>Runs a command through the login shell and waits for it; never throws for the command's own failure.</summary>
        public NodeCommandResult Run(string command, ILogger log, CancellationToken cancel = default)
        {
            log.LogInformation("{Node}: {Command}", Node.Name, command);
            var sw = Stopwatch.StartNew();
            using (var cmd = _client.CreateCommand(command))
            {
                cmd.CommandTimeout = _commandTimeout;
                string? failure = null;
                try
                {
                    using (cancel.Register(() => { try { cmd.CancelAsync(); } catch (Exception) { } }))
                        cmd.Execute();
                }
                catch (SshOperationTimeoutException)
                {
                    failure = $"{Node.Name}: the command timed out after {_commandTimeout.TotalSeconds:0} s: {command}";
                }
                catch (OperationCanceledException)
                {
                    failure = $"{Node.Name}: the command was cancelled: {command}";
                }
                catch (Exception e) when (e is SshException || e is SocketException || e is ObjectDisposedException)
                {
                    failure = $"{Node.Name}: the connection failed while running {command}: {e.Message}";
                }
                sw.Stop();
                string output = (cmd.Result ?? "").TrimEnd('\n', '\r');
                string error = (cmd.Error ?? "").TrimEnd('\n', '\r');
                int? exit = failure == null ? cmd.ExitStatus : null;
                if (failure == null && exit == null)
                    failure = $"{Node.Name}: the command was killed by signal {cmd.ExitSignal ?? "?"}: {command}";
                else if (failure == null && exit != 0)
                    failure = $"{Node.Name}: exit code {exit} from {command}" + (error.Length > 0 ? ": " + FirstLine(error) : "");
                log.LogInformation("{Node}: exit {Exit} after {Seconds:0.00} s", Node.Name, exit?.ToString() ?? "none", sw.Elapsed.TotalSeconds);
                return new NodeCommandResult(Node, command, exit, output, error, sw.Elapsed, failure);
            }
        }

        static string FirstLine(string s)
        {
            int i = s.IndexOf('\n');
            return i < 0 ? s : s.Substring(0, i);
        }

        public void Dispose() => _client.Dispose();
    }
}
