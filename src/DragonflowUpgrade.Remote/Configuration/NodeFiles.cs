using System;
using System.IO;
using System.Linq;
using System.Security.Cryptography;
using System.Threading;
using DragonflowUpgrade.Engine.Errors;
using Microsoft.Extensions.Logging;

namespace DragonflowUpgrade.Remote
{
    /// <summary>
    /// Reads and replaces whole files on a node over its SSH connection, with nothing on the node
    /// but a POSIX shell and coreutils (base64, sha256sum): no SFTP subsystem needed. A file read
    /// travels base64-encoded, so it comes back exactly as it is; a file written travels on the
    /// command's standard input, never in its command line.
    /// </summary>
    public static class NodeFiles
    {
        const int NotFound = 3, NotRegular = 4, NotReadable = 5, Changed = 6, BackupExists = 7;

        /// <summary>The file's bytes; a missing, non-regular or unreadable file throws <see cref="ConfigurationFileException"/> naming node and path.</summary>
        public static byte[] Read(NodeConnection connection, string path, ILogger log, CancellationToken cancel = default)
        {
            string script = $"f={ShellQuote.Quote(path)}; " +
                $"[ -e \"$f\" ] || exit {NotFound}; [ -f \"$f\" ] || exit {NotRegular}; [ -r \"$f\" ] || exit {NotReadable}; base64 < \"$f\"";
            var result = connection.Run(script, log, cancel);
            if (!result.Succeeded) throw Failure(connection.Node, path, result);
            try { return Convert.FromBase64String(result.Output); }
            catch (FormatException)
            {
                throw new ConfigurationFileException("ConfigFileUnreadable", DfErrorCategory.ReadError, connection.Node, path,
                    "came back garbled (is base64 of GNU coreutils there?)", "Check the node's shell and coreutils, then run the command again.");
            }
        }

        /// <summary>
        /// Replaces the file with <paramref name="content"/>, keeping its mode and owner, in one
        /// rename (no reader sees half a file) - only if it still holds what hashes to
        /// <paramref name="expectedSha256"/> or <paramref name="orSha256"/> (null: whatever it holds). With <paramref name="backupPath"/>,
        /// first copies the file there (mode, owner and times kept), refusing if that exists.
        /// </summary>
        public static void Replace(NodeConnection connection, string path, byte[] content, string? expectedSha256, string? backupPath,
            ILogger log, CancellationToken cancel = default, string? orSha256 = null)
        {
            string? accepted = orSha256 == null ? expectedSha256 : expectedSha256 + "|" + orSha256;
            // The bytes go on the command's standard input: the command line (and so every
            // message that quotes it) holds no part of the file, and no argument limit applies.
            string script = string.Join("\n",
                $"f={ShellQuote.Quote(path)}; b={ShellQuote.Quote(backupPath ?? "")}",
                // A link (config management often makes one) stays a link: the file it points to is replaced.
                $"[ -f \"$f\" ] || exit {NotFound}; f=$(readlink -f -- \"$f\") || exit 1",
                expectedSha256 == null ? "" : $"case \"$(sha256sum < \"$f\" | cut -d' ' -f1)\" in {accepted}) ;; *) exit {Changed} ;; esac",
                $"if [ -n \"$b\" ]; then [ ! -e \"$b\" ] || exit {BackupExists}; cp -p -- \"$f\" \"$b\" || exit 1; fi",
                "t=$(mktemp \"$f.df-new.XXXXXX\") || exit 1",
                "cat > \"$t\" || { rm -f \"$t\"; exit 1; }",
                "chmod --reference=\"$f\" \"$t\" && { chown --reference=\"$f\" \"$t\" 2>/dev/null || true; } && mv -f -- \"$t\" \"$f\" || { rm -f \"$t\"; exit 1; }");
            NodeCommandResult result;
            using (var input = new MemoryStream(content, false))
                result = connection.RunStreaming(script, $"replace {path}", input, null, null, log, null, cancel);
            if (!result.Succeeded) throw Failure(connection.Node, path, result, backupPath);
        }

        public static string Sha256(byte[] content)
        {
            using (var sha = SHA256.Create())
                return string.Concat(sha.ComputeHash(content).Select(b => b.ToString("x2")));
        }

        static ConfigurationFileException Failure(DfNode node, string path, NodeCommandResult result, string? backupPath = null)
        {
            if (result.ConnectionError != null) throw result.ConnectionError;
            switch (result.ExitCode)
            {
                case NotFound:
                    return new ConfigurationFileException("ConfigFileNotFound", DfErrorCategory.ObjectNotFound, node, path, "does not exist",
                        $"Give the node's dragonflow.ini path in the inventory (DragonflowConfig; by default {Inventory.DefaultDragonflowConfig}).");
                case NotRegular:
                    return new ConfigurationFileException("ConfigFileUnreadable", DfErrorCategory.ReadError, node, path, "is not a regular file (a folder or a device)",
                        "Give the path of the node's dragonflow.ini in the inventory (DragonflowConfig).");
                case NotReadable:
                    return new ConfigurationFileException("ConfigFileUnreadable", DfErrorCategory.SecurityError, node, path, $"cannot be read by {node.User}",
                        "Log in as a user that can read it (the node's User in the inventory), or make it readable.");
                case Changed:
                    return new ConfigurationFileException("ConfigFileChanged", DfErrorCategory.InvalidOperation, node, path,
                        "changed since it was read: it was left as it is", "Look at what changed it, then run the command again.");
                case BackupExists:
                    return new ConfigurationFileException("ConfigBackupExists", DfErrorCategory.WriteError, node, path,
                        $"was left as it is: its backup {backupPath} already exists", "Run the command again (a new backup name is taken each time).");
                default:
                    return new ConfigurationFileException("ConfigFileWriteFailed", DfErrorCategory.WriteError, node, path,
                        "could not be read or written: " + (result.Error.Length > 0 ? result.Error.Trim() : result.Failure),
                        "Check the node's disk and permissions, then run the command again.");
            }
        }
    }

    /// <summary>A configuration file on a node cannot be read or written; the message names node and path.</summary>
    public sealed class ConfigurationFileException : DfException
    {
        public ConfigurationFileException(string errorId, DfErrorCategory category, DfNode node, string path, string problem, string action)
            : base(errorId, category, $"{node.Name}: {path} {problem}.", $"{node.Name}:{path}", action)
        {
            Node = node;
            Path = path;
        }

        public DfNode Node { get; }
        public string Path { get; }
    }
}
