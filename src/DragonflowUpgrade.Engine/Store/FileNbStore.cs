using System;
using System.Collections.Generic;
using System.IO;
using System.IO.Compression;
using System.Linq;
using System.Text;
using System.Text.Json;

namespace DragonflowUpgrade.Engine.Store
{
    /// <summary>
    /// The embedded NB database: a <c>.jsonl</c> or <c>.jsonl.gz</c> file, one object a line,
    /// <c>{"table":..,"topic":..,"id":..,"value":..}</c>. An optional first line
    /// <c>{"header":{..}}</c> describes a backup. Every write rewrites the file to a temporary
    /// file and renames it over the old one, so a crash leaves either the old or the new file.
    /// </summary>
    public sealed class FileNbStore : INbStore
    {
        public FileNbStore(string path, bool create = false)
        {
            // The real file, links resolved, so writes replace it rather than a link to it, and
            // the lock and the path comparisons are the same however the file is named.
            Path = RealPath(path);
            if (!IsFileStorePath(path))
                throw new NbStoreException($"'{path}' is not an embedded NB database: its name must end in .jsonl or .jsonl.gz.");
            if (Directory.Exists(Path))
                throw new NbFileInvalidException(Path, 0, "is a folder, not an NB database file.", "Name the .jsonl or .jsonl.gz file itself.");
            if (!create && !File.Exists(Path))
                throw new NbStoreException($"No NB database file at '{Path}'.");
            if (File.Exists(Path) && !FileModes.IsRegularFile(Path))
                throw new NbFileInvalidException(Path, 0, "is not a regular file (a pipe, socket or device): it cannot be read as an NB database.", "Copy the database into a regular file and name that.");
        }

        public string Path { get; }
        public string Location => Path;
        bool Compressed => Path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase);

        /// <summary>The full path of a file with every symbolic link in it resolved.</summary>
        public static string RealPath(string path) => FileModes.RealPath(System.IO.Path.GetFullPath(path));

        public static bool IsFileStorePath(string path) =>
            path.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase) ||
            path.EndsWith(".jsonl.gz", StringComparison.OrdinalIgnoreCase);

        // A value may be nested StoredValue.MaxDepth deep (one more in the module's journal rows); a line holds it one level down.
        static readonly JsonDocumentOptions LineOptions = new JsonDocumentOptions { MaxDepth = StoredValue.MaxDepth + 2 };

        /// <summary>The header line's object, or null when the file has none.</summary>
        public JsonElement? ReadHeader()
        {
            if (!File.Exists(Path)) return null;
            foreach (var line in Lines())
            {
                if (line.Number > 1) break;
                using (var doc = ParseLine(line.Bytes, 1))
                    return doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("header", out var h) ? h.Clone() : (JsonElement?)null;
            }
            return null;
        }

        public IEnumerable<NbKey> ReadKeys(string table = null)
        {
            foreach (var e in Read(table)) yield return e.Key;
        }

        /// <summary>
        /// Reads the file strictly: every line UTF-8 JSON of the format, every value one
        /// <see cref="StoredValue"/> takes, no key twice; a compressed file must be whole. When the
        /// file has a header with an object count and a checksum, they are checked at the end of
        /// the read. (A byte order mark at the start, CRLF line ends and blank lines are accepted.)
        /// </summary>
        public IEnumerable<NbEntry> Read(string table = null)
        {
            if (!File.Exists(Path)) yield break;
            var seen = new Dictionary<NbKey, int>();
            var hash = new ContentHash();
            var buffer = new MemoryStream();
            int count = 0;
            (int Objects, string Checksum)? expected = null;
            foreach (var line in Lines())
            {
                NbEntry entry;
                using (var doc = ParseLine(line.Bytes, line.Number))
                {
                    var root = doc.RootElement;
                    if (root.ValueKind != JsonValueKind.Object) throw Malformed(line.Number, "a line must be a JSON object");
                    if (line.Number == 1 && root.TryGetProperty("header", out var header))
                    {
                        expected = Expected(header);
                        continue;
                    }
                    entry = ParseEntry(root, line.Number);
                }
                if (seen.TryGetValue(entry.Key, out int first))
                    throw Malformed(line.Number, $"{entry.Key} is stored again, first on line {first}; a database holds one value per key");
                seen.Add(entry.Key, line.Number);
                count++;
                if (expected.HasValue)
                {
                    buffer.SetLength(0);
                    WriteLine(buffer, entry);
                    hash.Add(buffer.GetBuffer(), (int)buffer.Length);
                }
                if (table == null || entry.Key.Table == table) yield return entry;
            }
            if (expected.HasValue)
            {
                if (count != expected.Value.Objects)
                    throw new NbFileInvalidException(Path, 0, $"holds {count} objects but its header says {expected.Value.Objects}: it was truncated or edited.",
                        "Restore the file from a copy; if the header is what was edited, put its count back.");
                if (!string.Equals(hash.Finish(), expected.Value.Checksum, StringComparison.OrdinalIgnoreCase))
                    throw new NbFileInvalidException(Path, 0, "its content does not match the checksum in its header: it was edited or damaged after it was written.",
                        "Restore the file from a copy.");
            }
        }

        // The object count and checksum a header promises, when it has them.
        (int, string)? Expected(JsonElement header)
        {
            if (header.ValueKind != JsonValueKind.Object) throw Malformed(1, "the header must be a JSON object");
            bool hasCount = header.TryGetProperty("objects", out var n), hasSum = header.TryGetProperty("checksum", out var sum);
            if (!hasCount && !hasSum) return null;
            int objects = 0;
            if (!hasCount || n.ValueKind != JsonValueKind.Number || !n.TryGetInt32(out objects) || objects < 0 || !hasSum || sum.ValueKind != JsonValueKind.String)
                throw Malformed(1, "the header's 'objects' must be a count and its 'checksum' a string, both or neither");
            return (objects, sum.GetString());
        }

        // The file's lines, as UTF-8 bytes without the line end; blank lines are left out. A
        // compressed file must end with its gzip trailer: a cut one is refused, not read short.
        IEnumerable<(int Number, ReadOnlyMemory<byte> Bytes)> Lines()
        {
            FileStream file;
            try { file = new FileStream(Path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16); }
            catch (Exception e) when (e is IOException || e is UnauthorizedAccessException) { throw new NbStoreException($"Cannot read '{Path}': {e.Message}", e); }
            using (file)
            {
                Stream s = Compressed ? new GZipStream(file, CompressionMode.Decompress) : (Stream)file;
                var buffer = new byte[1 << 16];
                int start = 0, end = 0, number = 0;
                long total = 0;
                bool eof = false;
                while (true)
                {
                    int nl = Array.IndexOf(buffer, (byte)'\n', start, end - start);
                    if (nl < 0 && !eof)
                    {
                        // Move the partial line to the front, growing the buffer for a long line.
                        if (start > 0) { Buffer.BlockCopy(buffer, start, buffer, 0, end - start); end -= start; start = 0; }
                        if (end == buffer.Length) Array.Resize(ref buffer, buffer.Length * 2);
                        int read = ReadSome(s, buffer, end);
                        if (read == 0) { eof = true; if (Compressed) CheckTrailer(file, total); }
                        total += read;
                        end += read;
                        continue;
                    }
                    if (nl < 0 && start == end) yield break;
                    int lineEnd = nl < 0 ? end : nl;
                    number++;
                    int from = start;
                    start = nl < 0 ? end : nl + 1;
                    // A byte order mark at the start of the file, as Windows PowerShell writes one, is not data.
                    if (number == 1 && lineEnd - from >= 3 && buffer[from] == 0xEF && buffer[from + 1] == 0xBB && buffer[from + 2] == 0xBF) from += 3;
                    if (lineEnd > from && buffer[lineEnd - 1] == '\r') lineEnd--;
                    if (IsBlank(buffer, from, lineEnd)) continue;
                    yield return (number, new ReadOnlyMemory<byte>(buffer, from, lineEnd - from));
                }
            }
        }

        int ReadSome(Stream s, byte[] buffer, int at)
        {
            try { return s.Read(buffer, at, buffer.Length - at); }
            catch (Exception e) when (e is InvalidDataException || e is EndOfStreamException || e is NotSupportedException)
            {
                throw new NbFileInvalidException(Path, 0, $"is not a whole gzip file ({e.Message}).", "Restore the file from a copy; a .jsonl.gz name must hold gzip-compressed lines.", e);
            }
        }

        // gzip ends with the length of what it holds, modulo 2^32: a file cut short ends with other bytes.
        void CheckTrailer(FileStream file, long total)
        {
            var tail = new byte[4];
            if (file.Length >= 18)
            {
                file.Seek(-4, SeekOrigin.End);
                int got = 0, n;
                while (got < 4 && (n = file.Read(tail, got, 4 - got)) > 0) got += n;
            }
            uint size = (uint)(tail[0] | tail[1] << 8 | tail[2] << 16 | tail[3] << 24);
            if (file.Length < 18 || size != (uint)total)
                throw new NbFileInvalidException(Path, 0, "is a gzip file cut short: it has no gzip trailer, so its end is missing.",
                    "Restore the file from a copy; nothing of it was used.");
        }

        static bool IsBlank(byte[] b, int from, int to)
        {
            for (int i = from; i < to; i++)
                if (b[i] != ' ' && b[i] != '\t' && b[i] != '\r') return false;
            return true;
        }

        JsonDocument ParseLine(ReadOnlyMemory<byte> line, int number)
        {
            if (!StoredValue.IsUtf8(line.Span)) throw Malformed(number, "not UTF-8 text");
            try { return JsonDocument.Parse(line, LineOptions); }
            catch (JsonException e) { throw Malformed(number, $"not valid JSON ({e.Message})"); }
        }

        NbEntry ParseEntry(JsonElement root, int number)
        {
            // A member given twice would otherwise be read as its last copy.
            int table0 = 0, topic0 = 0, id0 = 0, value0 = 0;
            foreach (var p in root.EnumerateObject())
                if ((p.NameEquals("table") && ++table0 > 1) || (p.NameEquals("topic") && ++topic0 > 1) ||
                    (p.NameEquals("id") && ++id0 > 1) || (p.NameEquals("value") && ++value0 > 1))
                    throw Malformed(number, $"'{p.Name}' appears twice in the line; a line names each of table, topic, id and value once");
            string table = RequiredString(root, "table", number);
            string id = RequiredString(root, "id", number);
            string topic = null;
            if (root.TryGetProperty("topic", out var t) && t.ValueKind != JsonValueKind.Null)
            {
                if (t.ValueKind != JsonValueKind.String) throw Malformed(number, "'topic' must be a string or null");
                topic = Text(t, number, "'topic'");
            }
            if (!root.TryGetProperty("value", out var value)) throw Malformed(number, "'value' is missing");
            var key = new NbKey(table, topic, id);
            var bytes = Encoding.UTF8.GetBytes(value.GetRawText());
            string problem = StoredValue.Problem(key, bytes);
            if (problem != null) throw Malformed(number, $"the value of {key} {problem.TrimEnd('.')}");
            return new NbEntry(key, bytes);
        }

        string RequiredString(JsonElement root, string name, int number)
        {
            if (!root.TryGetProperty(name, out var v) || v.ValueKind != JsonValueKind.String || Text(v, number, $"'{name}'").Length == 0)
                throw Malformed(number, $"'{name}' must be a non-empty string");
            return v.GetString();
        }

        // A JSON string's text; an escape of half a UTF-16 surrogate pair (\ud800) has none.
        string Text(JsonElement s, int number, string what)
        {
            try { return s.GetString(); }
            catch (InvalidOperationException) { throw Malformed(number, $"{what} is not text: it escapes half a UTF-16 surrogate pair (\\uD800-\\uDFFF alone)"); }
        }

        NbFileInvalidException Malformed(int line, string why) =>
            new NbFileInvalidException(Path, line, why + ".", "Fix or remove that line (or restore the file from a copy), then run again.");

        public void Write(IReadOnlyCollection<NbEntry> changes, IProgress<int> progress = null) => Write(changes, null, progress);

        // The file is read and rewritten whole in one write, so the check is of the whole batch against the file as it is then.
        public void WriteIf(IReadOnlyCollection<NbEntry> changes, Func<NbKey, ReadOnlyMemory<byte>?> expected, IProgress<int> progress = null) =>
            Write(changes, expected ?? throw new ArgumentNullException(nameof(expected)), progress);

        void Write(IReadOnlyCollection<NbEntry> changes, Func<NbKey, ReadOnlyMemory<byte>?> expected, IProgress<int> progress)
        {
            // Keep the file's order; new objects go at the end.
            var content = new Dictionary<NbKey, ReadOnlyMemory<byte>>();
            var order = new List<NbKey>();
            foreach (var e in Read())
            {
                if (!content.ContainsKey(e.Key)) order.Add(e.Key);
                content[e.Key] = e.Value;
            }
            if (expected != null)
            {
                var changed = new List<NbKey>();
                foreach (var c in changes)
                {
                    var old = expected(c.Key);
                    bool present = content.TryGetValue(c.Key, out var now);
                    if (present != old.HasValue || (present && !now.Span.SequenceEqual(old.Value.Span))) changed.Add(c.Key);
                }
                if (changed.Count > 0) throw new NbConflictException(Location, changed, 0);
            }
            foreach (var c in changes)
            {
                if (c.IsDelete) { content.Remove(c.Key); continue; }
                if (!content.ContainsKey(c.Key)) order.Add(c.Key);
                content[c.Key] = c.Value;
            }
            var entries = Ordered(order, content).ToList();
            WriteFile(Path, WithCount(ReadHeader(), entries), entries);
            progress?.Report(changes.Count);
        }

        // A header that states the object count and checksum states those of what is written now.
        static JsonElement? WithCount(JsonElement? header, List<NbEntry> entries)
        {
            if (!header.HasValue || header.Value.ValueKind != JsonValueKind.Object ||
                !header.Value.TryGetProperty("objects", out _) || !header.Value.TryGetProperty("checksum", out _)) return header;
            var buffer = new MemoryStream();
            using (var w = new Utf8JsonWriter(buffer))
            {
                w.WriteStartObject();
                foreach (var p in header.Value.EnumerateObject())
                {
                    if (p.NameEquals("objects")) w.WriteNumber("objects", entries.Count);
                    else if (p.NameEquals("checksum")) w.WriteString("checksum", Checksum(entries));
                    else p.WriteTo(w);
                }
                w.WriteEndObject();
            }
            using (var doc = JsonDocument.Parse(buffer.ToArray())) return doc.RootElement.Clone();
        }

        /// <summary>SHA-256 of the lines the file format gives these entries, as a header states it.</summary>
        internal static string Checksum(IEnumerable<NbEntry> entries)
        {
            var hash = new ContentHash();
            var buffer = new MemoryStream();
            foreach (var e in entries)
            {
                buffer.SetLength(0);
                WriteLine(buffer, e);
                hash.Add(buffer.GetBuffer(), (int)buffer.Length);
            }
            return hash.Finish();
        }

        static IEnumerable<NbEntry> Ordered(List<NbKey> order, Dictionary<NbKey, ReadOnlyMemory<byte>> content)
        {
            foreach (var key in order)
                if (content.TryGetValue(key, out var v)) yield return new NbEntry(key, v);
        }

        /// <summary>
        /// Writes a whole embedded database: to a temporary file beside <paramref name="path"/>,
        /// flushed to disk, then renamed over it (the file a link names, not the link). Unless
        /// <paramref name="replace"/>, an existing file is never replaced: the write is refused.
        /// Returns the SHA-256 of the object lines.
        /// </summary>
        public static string WriteFile(string path, JsonElement? header, IEnumerable<NbEntry> entries, bool ownerOnly = false, bool replace = true)
        {
            path = RealPath(path);
            string dir = System.IO.Path.GetDirectoryName(path);
            Directory.CreateDirectory(dir);
            string temp = System.IO.Path.Combine(dir, "." + System.IO.Path.GetFileName(path) + ".tmp-" + Guid.NewGuid().ToString("N"));
            var hash = new ContentHash();
            try
            {
                using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
                {
                    if (ownerOnly) FileModes.SetOwnerOnly(temp);
                    Stream s = path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase)
                        ? new GZipStream(file, CompressionLevel.Fastest, leaveOpen: true) : (Stream)file;
                    if (header.HasValue)
                    {
                        var h = Encoding.UTF8.GetBytes("{\"header\":" + header.Value.GetRawText() + "}\n");
                        s.Write(h, 0, h.Length);
                    }
                    var buffer = new MemoryStream();
                    foreach (var e in entries)
                    {
                        buffer.SetLength(0);
                        WriteLine(buffer, e);
                        hash.Add(buffer.GetBuffer(), (int)buffer.Length);
                        buffer.WriteTo(s);
                    }
                    if (s != file) s.Dispose();
                    file.Flush(true);
                }
                // Move without overwrite fails when the file exists, even one created since it was checked.
                if (replace && File.Exists(path)) File.Replace(temp, path, null);
                else File.Move(temp, path);
            }
            catch (Exception e) when (e is IOException || e is UnauthorizedAccessException)
            {
                TryDelete(temp);
                throw new NbStoreException($"Cannot write '{path}': {e.Message}", e);
            }
            catch
            {
                TryDelete(temp);
                throw;
            }
            return hash.Finish();
        }

        /// <summary>One line of the file format for an entry.</summary>
        internal static void WriteLine(Stream s, NbEntry e)
        {
            using (var w = new Utf8JsonWriter(s))
            {
                w.WriteStartObject();
                w.WriteString("table", e.Key.Table);
                if (e.Key.Topic == null) w.WriteNull("topic"); else w.WriteString("topic", e.Key.Topic);
                w.WriteString("id", e.Key.Id);
                w.WritePropertyName("value");
                w.WriteRawValue(e.Value.Span, skipInputValidation: true);
                w.WriteEndObject();
            }
            s.WriteByte((byte)'\n');
        }

        static void TryDelete(string path)
        {
            try { File.Delete(path); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }

        public void Dispose() { }
    }
}
