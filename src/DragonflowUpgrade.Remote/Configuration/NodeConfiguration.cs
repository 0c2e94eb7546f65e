using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Text;
using System.Linq;
using System.Threading;
using DragonflowUpgrade.Dragonflow.Configuration;
using DragonflowUpgrade.Engine.Errors;
using DragonflowUpgrade.Engine.Store;
using Microsoft.Extensions.Logging;

namespace DragonflowUpgrade.Remote
{
    /// <summary>
    /// The nodes' dragonflow.ini files against two releases' options: what an upgrade means for
    /// them (<see cref="Check"/>), the renames it needs (<see cref="Apply"/>, with backups), and
    /// putting the backed-up files back (<see cref="Restore"/>). Every node is worked on in
    /// parallel; each file gets its own result, failed or not.
    /// </summary>
    public sealed class NodeConfiguration
    {
        readonly SshConnector _connector;
        readonly int _throttleLimit;
        readonly ILogger _log;

        public NodeConfiguration(SshConnector connector, int throttleLimit, ILogger log)
        {
            _connector = connector;
            _throttleLimit = throttleLimit;
            _log = log;
        }

        /// <summary>Reads every file of every node and compares it; one result per file, holding its findings and the renames it needs.</summary>
        public IEnumerable<ConfigurationFileCheck> Check(IReadOnlyList<DfNode> nodes, OptionManifest source, OptionManifest target, CancellationToken cancel = default) =>
            NodeFanOut.Run(nodes, _throttleLimit, _log, (node, log, token) =>
            {
                using (var connection = _connector.Connect(node, log, token))
                    return node.ConfigFiles.Select(path => CheckFile(connection, path, source, target, log, token)).ToList();
            }, (node, e) => node.ConfigFiles.Select(path => new ConfigurationFileCheck(node, path, null, null, null, e)).ToList(), cancel)
            .SelectMany(files => files);

        static ConfigurationFileCheck CheckFile(NodeConnection connection, string path, OptionManifest source, OptionManifest target, ILogger log, CancellationToken cancel)
        {
            var node = connection.Node;
            try
            {
                byte[] bytes = NodeFiles.Read(connection, path, log, cancel);
                string where = $"{node.Name}: {path}";
                var findings = ConfigurationCheck.Compare(IniFile.Parse(bytes, where), source, target, node.Name, path);
                // The renames an update would apply, tried on a copy: what -WhatIf shows is what it does.
                var renames = ConfigurationCheck.ApplyRenames(IniFile.Parse(bytes, where), findings);
                return new ConfigurationFileCheck(node, path, bytes, findings, renames, null);
            }
            catch (DfException e) { return new ConfigurationFileCheck(node, path, null, null, null, e); }
        }

        /// <summary>
        /// Renames in each checked file what its findings say to rename: first a copy of the file
        /// on the node (<c>&lt;file&gt;.df-backup-&lt;time&gt;</c>) and one in <paramref name="backupFolder"/>
        /// (owner-only), then the file, only if it still holds what was read. One result per file.
        /// <paramref name="beforeWrite"/> gets each change before its file is written (on the fan-out's
        /// threads), so that a record of it outlives a process killed in between.
        /// </summary>
        public IEnumerable<ConfigurationChangeResult> Apply(IReadOnlyList<ConfigurationFileCheck> files, string backupFolder, CancellationToken cancel = default,
            Action<ConfigurationChange>? beforeWrite = null)
        {
            string stamp = DateTimeOffset.UtcNow.ToString("yyyyMMdd'T'HHmmss.fff'Z'", CultureInfo.InvariantCulture);
            var byNode = files.Where(f => f.Renames.Count > 0).GroupBy(f => f.Node).ToDictionary(g => g.Key, g => g.ToList());
            return NodeFanOut.Run(byNode.Keys.ToList(), _throttleLimit, _log, (node, log, token) =>
            {
                using (var connection = _connector.Connect(node, log, token))
                    return byNode[node].Select(f => ApplyFile(connection, f, backupFolder, stamp, beforeWrite, log, token)).ToList();
            }, (node, e) => byNode[node].Select(f => new ConfigurationChangeResult(null, f, e)).ToList(), cancel)
            .SelectMany(results => results);
        }

        static ConfigurationChangeResult ApplyFile(NodeConnection connection, ConfigurationFileCheck file, string backupFolder, string stamp,
            Action<ConfigurationChange>? beforeWrite, ILogger log, CancellationToken cancel)
        {
            try
            {
                // A file with renames to apply was read.
                byte[] content = file.Content ?? throw new InvalidOperationException($"{file.Node.Name}: {file.Path} was not read, so it has nothing to rename.");
                var ini = IniFile.Parse(content, $"{file.Node.Name}: {file.Path}");
                var applied = ConfigurationCheck.ApplyRenames(ini, file.Renames);
                byte[] updated = ini.ToBytes();
                string local = WriteLocalBackup(backupFolder, file.Node, file.Path, stamp, content);
                string remote = $"{file.Path}.df-backup-{stamp}";
                var change = new ConfigurationChange(file.Node, file.Path, applied.Select(Describe).ToList(), local, remote, NodeFiles.Sha256(updated), NodeFiles.Sha256(content));
                beforeWrite?.Invoke(change);
                NodeFiles.Replace(connection, file.Path, updated, change.OriginalSha256, remote, log, cancel);
                log.LogInformation("{Node}: {Path}: {Count} option(s) renamed; the original is {Backup} there and {Local} here.", file.Node.Name, file.Path, applied.Count, remote, local);
                return new ConfigurationChangeResult(change, file, null);
            }
            catch (Exception e) when (e is DfException || e is IOException || e is UnauthorizedAccessException)
            {
                return new ConfigurationChangeResult(null, file, e);
            }
        }

        const int MaxFileName = 255; // bytes, on Linux's file systems

        /// <summary>
        /// <paramref name="stamp"/>-<paramref name="path"/> with '/' as '_'; when that is too long
        /// for a file name, the stamp, a hash of the whole path (two paths never share a name) and
        /// as much of the path's end as fits.
        /// </summary>
        internal static string BackupName(string stamp, string path)
        {
            string flat = path.Trim('/').Replace('/', '_');
            string name = stamp + "-" + flat;
            if (Encoding.UTF8.GetByteCount(name) <= MaxFileName) return name;
            string head = stamp + "-" + NodeFiles.Sha256(Encoding.UTF8.GetBytes(path)).Substring(0, 16) + "-";
            int start = 0;
            while (Encoding.UTF8.GetByteCount(head) + Encoding.UTF8.GetByteCount(flat.Substring(start)) > MaxFileName
                   || char.IsLowSurrogate(flat[start])) start++;
            return head + flat.Substring(start);
        }

        static string Describe(ConfigurationFinding f) => $"[{f.Group}] {f.Option} -> [{f.NewGroup}] {f.NewOption}";

        // <folder>/<node>/<time>-<path, '/' as '_'>, readable by its owner only.
        static string WriteLocalBackup(string folder, DfNode node, string path, string stamp, byte[] content)
        {
            string dir = Path.Combine(folder, node.Name);
            Directory.CreateDirectory(dir);
            string file = Path.Combine(dir, BackupName(stamp, path));
            using (var stream = new FileStream(file, FileMode.CreateNew, FileAccess.Write))
            {
                FileModes.SetOwnerOnly(file);
                stream.Write(content, 0, content.Length);
            }
            return file;
        }

        /// <summary>
        /// Puts each change's backed-up file back on its node: only if the file holds what the change
        /// wrote or (when the change knows it) the original - put back already, or never written -
        /// unless <paramref name="force"/>. One result per change.
        /// </summary>
        public IEnumerable<ConfigurationRestoreResult> Restore(IReadOnlyList<ConfigurationChange> changes, bool force, CancellationToken cancel = default)
        {
            var byNode = changes.GroupBy(c => c.Node.Name, StringComparer.OrdinalIgnoreCase).ToDictionary(g => g.First().Node, g => g.ToList());
            return NodeFanOut.Run(byNode.Keys.ToList(), _throttleLimit, _log, (node, log, token) =>
            {
                using (var connection = _connector.Connect(node, log, token))
                    return byNode[node].Select(c => RestoreFile(connection, c, force, log, token)).ToList();
            }, (node, e) => byNode[node].Select(c => new ConfigurationRestoreResult(c, e)).ToList(), cancel)
            .SelectMany(results => results);
        }

        static ConfigurationRestoreResult RestoreFile(NodeConnection connection, ConfigurationChange change, bool force, ILogger log, CancellationToken cancel)
        {
            try
            {
                byte[] original;
                try { original = File.ReadAllBytes(change.Backup); }
                catch (Exception e) when (e is IOException || e is UnauthorizedAccessException)
                {
                    throw new ConfigurationFileException("ConfigBackupNotFound", DfErrorCategory.ObjectNotFound, change.Node, change.Path,
                        $"was not restored: its backup {change.Backup} cannot be read ({e.Message})",
                        $"Restore it from the copy on the node, {change.NodeBackup}.");
                }
                if (change.OriginalSha256 != null && NodeFiles.Sha256(original) != change.OriginalSha256)
                    throw new ConfigurationFileException("ConfigBackupDamaged", DfErrorCategory.InvalidData, change.Node, change.Path,
                        $"was not restored: its backup {change.Backup} is not the file that was read (its SHA-256 differs)",
                        $"Restore it from the copy on the node, {change.NodeBackup}.");
                NodeFiles.Replace(connection, change.Path, original, force ? null : change.WrittenSha256, null, log, cancel, force ? null : change.OriginalSha256);
                log.LogInformation("{Node}: {Path} restored from {Backup}.", change.Node.Name, change.Path, change.Backup);
                return new ConfigurationRestoreResult(change, null);
            }
            catch (DfException e) { return new ConfigurationRestoreResult(change, e); }
        }
    }

    /// <summary>One file of one node, read and compared, or the error that stopped it.</summary>
    public sealed class ConfigurationFileCheck
    {
        internal ConfigurationFileCheck(DfNode node, string path, byte[]? content, IReadOnlyList<ConfigurationFinding>? findings,
            IReadOnlyList<ConfigurationFinding>? renames, Exception? error)
        {
            Node = node;
            Path = path;
            Content = content;
            Findings = findings ?? new ConfigurationFinding[0];
            Renames = renames ?? new ConfigurationFinding[0];
            Error = error;
        }

        public DfNode Node { get; }
        public string Path { get; }
        /// <summary>The file as read; null when it could not be.</summary>
        internal byte[]? Content { get; }
        public IReadOnlyList<ConfigurationFinding> Findings { get; }
        /// <summary>The renames an update applies: Renamed findings whose new name the file does not already set.</summary>
        public IReadOnlyList<ConfigurationFinding> Renames { get; }
        /// <summary>Why the file could not be read or compared; null when it was.</summary>
        public Exception? Error { get; }
    }

    /// <summary>What Update-DfConfiguration changed in one file, and where the original is kept.</summary>
    public sealed class ConfigurationChange
    {
        public ConfigurationChange(DfNode node, string path, IReadOnlyList<string> renamed, string backup, string nodeBackup, string writtenSha256, string? originalSha256 = null)
        {
            OriginalSha256 = originalSha256;
            Node = node;
            Path = path;
            Renamed = renamed;
            Backup = backup;
            NodeBackup = nodeBackup;
            WrittenSha256 = writtenSha256;
        }

        public DfNode Node { get; }
        public string Path { get; }
        /// <summary>Each rename, as "[old group] old -> [new group] new".</summary>
        public IReadOnlyList<string> Renamed { get; }
        /// <summary>The original file, on this machine (mode 0600).</summary>
        public string Backup { get; }
        /// <summary>The original file, on the node.</summary>
        public string NodeBackup { get; }
        /// <summary>The SHA-256 of what was written: a restore checks the file still holds it.</summary>
        public string WrittenSha256 { get; }
        /// <summary>The SHA-256 of the file as it was read (null when not known): a restore finds it there if the file was never written or is put back already.</summary>
        public string? OriginalSha256 { get; }
    }

    public sealed class ConfigurationChangeResult
    {
        internal ConfigurationChangeResult(ConfigurationChange? change, ConfigurationFileCheck file, Exception? error)
        {
            Change = change;
            File = file;
            Error = error;
        }

        /// <summary>The change made; null when the file's node could not be reached or the change failed before it was made.</summary>
        public ConfigurationChange? Change { get; }
        public ConfigurationFileCheck File { get; }
        public Exception? Error { get; }
    }

    public sealed class ConfigurationRestoreResult
    {
        internal ConfigurationRestoreResult(ConfigurationChange change, Exception? error)
        {
            Change = change;
            Error = error;
        }

        public ConfigurationChange Change { get; }
        /// <summary>Why the file was not restored; null when it was.</summary>
        public Exception? Error { get; }
    }
}
