using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;

namespace DragonflowUpgrade.Remote
{
    public enum HostKeyMatch
    {
        /// <summary>The file has this key for the host.</summary>
        Known,
        /// <summary>The file has no key of this type for the host.</summary>
        Unknown,
        /// <summary>The file has another key of this type for the host: refuse, always.</summary>
        Changed,
        /// <summary>The key is marked @revoked.</summary>
        Revoked,
    }

    /// <summary>
    /// An OpenSSH known_hosts file: plain and hashed host entries, wildcard patterns and
    /// negations, [host]:port for ports other than 22, and @revoked markers.
    /// </summary>
    public sealed class KnownHosts
    {
        readonly string _path;
        readonly object _lock = new object();
        readonly List<Entry> _entries = new List<Entry>();

        KnownHosts(string path) { _path = path; }

        public string Path => _path;

        /// <summary>Reads the file; a missing file is an empty one.</summary>
        public static KnownHosts Load(string path)
        {
            var k = new KnownHosts(path);
            if (!File.Exists(path)) return k;
            string[] lines = File.ReadAllLines(path);
            for (int i = 0; i < lines.Length; i++)
            {
                var e = Entry.Parse(lines[i], i + 1);
                if (e != null) k._entries.Add(e);
            }
            return k;
        }

        /// <summary>How known_hosts names a host: the address, or [address]:port for ports other than 22.</summary>
        public static string HostName(string address, int port) => port == 22 ? address : $"[{address}]:{port}";

        /// <summary>The key type of an SSH public key blob ("ssh-ed25519", "ssh-rsa"...).</summary>
        public static string KeyType(byte[] blob)
        {
            if (blob == null || blob.Length < 4) return "";
            int length = (blob[0] << 24) | (blob[1] << 16) | (blob[2] << 8) | blob[3];
            return length < 0 || length > blob.Length - 4 ? "" : Encoding.ASCII.GetString(blob, 4, length);
        }

        /// <summary>The SHA256 fingerprint as OpenSSH prints it.</summary>
        public static string Fingerprint(byte[] blob)
        {
            using (var sha = SHA256.Create())
                return "SHA256:" + Convert.ToBase64String(sha.ComputeHash(blob)).TrimEnd('=');
        }

        /// <summary>The key types the file holds for a host, so that the connection asks for one of them.</summary>
        public IReadOnlyCollection<string> KeyTypes(string address, int port)
        {
            string host = HostName(address, port);
            lock (_lock)
                return _entries.Where(e => e.Marker == null && e.Matches(host)).Select(e => e.KeyType).Distinct().ToList();
        }

        /// <summary>Checks a host's key; for <see cref="HostKeyMatch.Changed"/>, <paramref name="line"/> is the entry it contradicts.</summary>
        public HostKeyMatch Check(string address, int port, byte[] key, out int line)
        {
            string host = HostName(address, port);
            string type = KeyType(key);
            line = 0;
            lock (_lock)
            {
                var matching = _entries.Where(e => e.Matches(host)).ToList();
                var revoked = matching.FirstOrDefault(e => e.Marker == "@revoked" && e.Key.SequenceEqual(key));
                if (revoked != null) { line = revoked.Line; return HostKeyMatch.Revoked; }
                var sameType = matching.Where(e => e.Marker == null && e.KeyType == type).ToList();
                if (sameType.Any(e => e.Key.SequenceEqual(key))) return HostKeyMatch.Known;
                if (sameType.Count > 0) { line = sameType[0].Line; return HostKeyMatch.Changed; }
                return HostKeyMatch.Unknown;
            }
        }

        /// <summary>Records a host's key (accept-new): appends a line to the file, creating it if need be.</summary>
        public void Add(string address, int port, byte[] key)
        {
            string host = HostName(address, port);
            lock (_lock)
            {
                if (_entries.Any(e => e.Marker == null && e.Matches(host) && e.Key.SequenceEqual(key))) return;
                string text = $"{host} {KeyType(key)} {Convert.ToBase64String(key)}";
                string dir = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(_path))!; // a full file path has a folder
                Directory.CreateDirectory(dir);
                bool needsNewline = File.Exists(_path) && new FileInfo(_path).Length > 0 && !EndsWithNewline(_path);
                File.AppendAllText(_path, (needsNewline ? "\n" : "") + text + "\n");
                _entries.Add(Entry.Parse(text, _entries.Count == 0 ? 1 : _entries.Max(e => e.Line) + 1)!); // the line just written parses
            }
        }

        static bool EndsWithNewline(string path)
        {
            using (var f = File.OpenRead(path))
            {
                f.Seek(-1, SeekOrigin.End);
                return f.ReadByte() == '\n';
            }
        }

        sealed class Entry
        {
            public string? Marker;
            public string[] Patterns = new string[0];
            public string KeyType = "";
            public byte[] Key = new byte[0];
            public int Line;

            public static Entry? Parse(string text, int line)
            {
                text = text.Trim();
                if (text.Length == 0 || text[0] == '#') return null;
                var parts = text.Split(new[] { ' ', '\t' }, StringSplitOptions.RemoveEmptyEntries);
                int i = 0;
                string? marker = null;
                if (parts[0].StartsWith("@", StringComparison.Ordinal)) { marker = parts[0].ToLowerInvariant(); i = 1; }
                if (parts.Length < i + 3) return null;
                byte[] key;
                try { key = Convert.FromBase64String(parts[i + 2]); }
                catch (FormatException) { return null; }
                return new Entry { Marker = marker, Patterns = parts[i].Split(','), KeyType = parts[i + 1], Key = key, Line = line };
            }

            public bool Matches(string host)
            {
                bool matched = false;
                foreach (string pattern in Patterns)
                {
                    if (pattern.StartsWith("|1|", StringComparison.Ordinal)) { if (HashedMatch(pattern, host)) matched = true; continue; }
                    bool negated = pattern.StartsWith("!", StringComparison.Ordinal);
                    string p = negated ? pattern.Substring(1) : pattern;
                    if (!Glob(p, host)) continue;
                    if (negated) return false;
                    matched = true;
                }
                return matched;
            }

            static bool Glob(string pattern, string host)
            {
                if (pattern.IndexOfAny(new[] { '*', '?' }) < 0) return string.Equals(pattern, host, StringComparison.OrdinalIgnoreCase);
                string regex = "^" + Regex.Escape(pattern).Replace("\\*", ".*").Replace("\\?", ".") + "$";
                return Regex.IsMatch(host, regex, RegexOptions.IgnoreCase | RegexOptions.CultureInvariant);
            }

            static bool HashedMatch(string pattern, string host)
            {
                var parts = pattern.Split('|'); // "", "1", salt, hash
                if (parts.Length != 4) return false;
                try
                {
                    using (var hmac = new HMACSHA1(Convert.FromBase64String(parts[2])))
                        return Convert.ToBase64String(hmac.ComputeHash(Encoding.ASCII.GetBytes(host))) == parts[3];
                }
                catch (FormatException) { return false; }
            }
        }
    }
}
