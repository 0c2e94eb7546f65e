using System;
using System.IO;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Threading;
using DragonflowUpgrade.Engine.Errors;
using Microsoft.Extensions.Logging;

namespace DragonflowUpgrade.Remote
{
    /// <summary>
    /// Backs up, restores and migrates Neutron's database by running the inventory's commands on
    /// its controller over SSH. Dumps stream both ways: nothing holds a whole dump in memory.
    /// </summary>
    public sealed class NeutronDatabaseClient
    {
        readonly SshConnector _connector;
        readonly ILogger _log;

        public NeutronDatabaseClient(SshConnector connector, ILogger log)
        {
            _connector = connector;
            _log = log;
        }

        /// <summary>
        /// Runs the backup command and stores its output in <paramref name="path"/> (gzip, mode
        /// 0600) with its checksum file. A path already taken is refused before the node is
        /// contacted. A command that fails, or prints nothing, leaves no file under that name.
        /// </summary>
        public NeutronDatabaseBackup Backup(NeutronDatabase db, string path, string? password, Action<string> line, CancellationToken cancel = default)
        {
            path = Path.GetFullPath(path);
            NeutronDump.CheckFree(path);
            string command = db.Backup.For(password);
            string folder = Path.GetDirectoryName(path)!;   // a full path: it has a folder
            Directory.CreateDirectory(folder);
            string temp = Path.Combine(folder, "." + Path.GetFileName(path) + ".partial-" + Guid.NewGuid().ToString("N"));
            var time = DateTime.UtcNow;
            try
            {
                long bytes;
                string checksum;
                using (var connection = Connect(db.Node, cancel))
                using (var file = NeutronDump.CreateOwnerOnly(temp))
                using (var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256))
                {
                    // node -> count -> gzip -> hash -> file: the checksum is of the file as stored.
                    var hashed = new CountingStream(file, sha);
                    using (var dump = new CountingStream(new GZipStream(hashed, CompressionLevel.Fastest, leaveOpen: true)))
                    {
                        var result = connection.RunStreaming(command, db.Backup.Shown, NeutronCommand.Input(password, null), dump, line, _log, password, cancel);
                        Fail(db, db.Backup, result);
                        bytes = dump.Count;
                    }
                    checksum = NeutronDump.Hex(sha.GetHashAndReset());
                    file.Flush(true);
                }
                if (bytes == 0)
                    throw new NeutronDatabaseException(NeutronDatabaseException.DumpEmptyId, DfErrorCategory.InvalidOperation,
                        $"{db.Node.Name}: {db.Backup.Shown} exited 0 and wrote nothing: that is no dump; nothing was kept.", db.Node.Name,
                        "Check the NeutronDatabase.Backup command of the inventory: it must write the dump to its standard output.");
                NeutronDump.WriteChecksum(path, checksum);
                File.Move(temp, path);
                _log.LogInformation("{Node}: dump of {Bytes} bytes stored in {Path}", db.Node.Name, bytes, path);
                return new NeutronDatabaseBackup(path, db.Node.Name, bytes, checksum, time, db.Inventory);
            }
            finally
            {
                if (File.Exists(temp)) File.Delete(temp);
            }
        }

        /// <summary>
        /// Checks the dump against its checksum (refusing a damaged or unverifiable one before the
        /// node is contacted), then streams it, decompressed, into the restore command.
        /// </summary>
        public NeutronDatabaseRestore Restore(NeutronDatabase db, string path, string? password, Action<string> line, CancellationToken cancel = default)
        {
            path = Path.GetFullPath(path);
            string checksum = NeutronDump.Verify(path);
            string command = db.Restore.For(password);
            var started = DateTime.UtcNow;
            using (var connection = Connect(db.Node, cancel))
            using (var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16))
            using (var dump = new CountingStream(new GZipStream(file, CompressionMode.Decompress)))
            {
                var result = connection.RunStreaming(command, db.Restore.Shown, NeutronCommand.Input(password, dump), null, line, _log, password, cancel);
                Fail(db, db.Restore, result);
                return new NeutronDatabaseRestore(path, db.Node.Name, dump.Count, checksum, DateTime.UtcNow - started);
            }
        }

        /// <summary>Runs the migration command, its output lines to <paramref name="line"/>; a non-zero exit throws NeutronCommandFailed.</summary>
        public NodeCommandResult Migrate(NeutronDatabase db, string? password, Action<string> line, CancellationToken cancel = default)
        {
            string command = db.Migrate.For(password);
            using (var connection = Connect(db.Node, cancel))
            {
                var result = connection.RunStreaming(command, db.Migrate.Shown, NeutronCommand.Input(password, null), null, line, _log, password, cancel);
                Fail(db, db.Migrate, result);
                return result;
            }
        }

        // A connection error passes through as is: the same id, target and advice as every other node cmdlet gives.
        NodeConnection Connect(DfNode node, CancellationToken cancel) => _connector.Connect(node, _log, cancel);

        static void Fail(NeutronDatabase db, NeutronCommand command, NodeCommandResult result)
        {
            if (result.Succeeded) return;
            throw new NeutronDatabaseException(NeutronDatabaseException.CommandFailedId, DfErrorCategory.InvalidOperation, result.Failure, db.Node.Name,
                $"See the command's error output above; the command is the inventory's NeutronDatabase setting ({db.Inventory}).");
        }

        /// <summary>Passes writes or reads through, counting the bytes.</summary>
        sealed class CountingStream : Stream
        {
            readonly Stream _inner;
            readonly IncrementalHash? _hash;
            /// <param name="hash">Also hashes what is written; the inner stream is then left open.</param>
            public CountingStream(Stream inner, IncrementalHash? hash = null) { _inner = inner; _hash = hash; }
            public long Count { get; private set; }
            public override bool CanRead => _inner.CanRead;
            public override bool CanSeek => false;
            public override bool CanWrite => _inner.CanWrite;
            public override long Length => throw new NotSupportedException();
            public override long Position { get => Count; set => throw new NotSupportedException(); }
            public override void Flush() => _inner.Flush();
            public override int Read(byte[] buffer, int offset, int count)
            {
                int n = _inner.Read(buffer, offset, count);
                Count += n;
                return n;
            }
            public override void Write(byte[] buffer, int offset, int count)
            {
                _inner.Write(buffer, offset, count);
                _hash?.AppendData(buffer, offset, count);
                Count += count;
            }
            public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
            public override void SetLength(long value) => throw new NotSupportedException();
            protected override void Dispose(bool disposing)
            {
                if (disposing && _hash == null) _inner.Dispose();
                base.Dispose(disposing);
            }
        }
    }

    /// <summary>A dump of Neutron's database, as Backup-DfNeutronDatabase stored it.</summary>
    public sealed class NeutronDatabaseBackup
    {
        public NeutronDatabaseBackup(string path, string node, long bytes, string checksum, DateTime time, string inventory)
        {
            Path = path;
            Node = node;
            Bytes = bytes;
            Checksum = checksum;
            Time = time;
            Inventory = inventory;
        }

        /// <summary>The dump file (gzip).</summary>
        public string Path { get; }
        /// <summary>The controller that made it.</summary>
        public string Node { get; }
        /// <summary>The size of the dump as the command wrote it (before compression).</summary>
        public long Bytes { get; }
        /// <summary>The SHA-256 of the file, also in its .sha256 file.</summary>
        public string Checksum { get; }
        /// <summary>When the dump began (UTC).</summary>
        public DateTime Time { get; }
        /// <summary>The inventory it was made with: Restore-DfNeutronDatabase takes it from the pipeline.</summary>
        public string Inventory { get; }
    }

    /// <summary>A dump fed back into Neutron's database.</summary>
    public sealed class NeutronDatabaseRestore
    {
        public NeutronDatabaseRestore(string path, string node, long bytes, string checksum, TimeSpan duration)
        {
            Path = path;
            Node = node;
            Bytes = bytes;
            Checksum = checksum;
            Duration = duration;
        }

        public string Path { get; }
        public string Node { get; }
        public long Bytes { get; }
        public string Checksum { get; }
        public TimeSpan Duration { get; }
    }
}
