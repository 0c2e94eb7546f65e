using System;
using System.Collections.Generic;
using System.IO;
using System.IO.Compression;
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
            Path = System.IO.Path.GetFullPath(path);
            if (!IsFileStorePath(path))
                throw new NbStoreException($"'{path}' is not an embedded NB database: its name must end in .jsonl or .jsonl.gz.");
            if (!create && !File.Exists(Path))
                throw new NbStoreException($"No NB database file at '{Path}'.");
        }

        public string Path { get; }
        public string Location => Path;
        bool Compressed => Path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase);

        public static bool IsFileStorePath(string path) =>
            path.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase) ||
            path.EndsWith(".jsonl.gz", StringComparison.OrdinalIgnoreCase);

        /// <summary>The header line's object, or null when the file has none.</summary>
        public JsonElement? ReadHeader()
        {
            if (!File.Exists(Path)) return null;
            using (var reader = OpenText())
            {
                string line = reader.ReadLine();
                if (line == null) return null;
                using (var doc = ParseLine(line, 1))
                    return doc.RootElement.TryGetProperty("header", out var h) ? h.Clone() : (JsonElement?)null;
            }
        }

        public IEnumerable<NbKey> ReadKeys(string table = null)
        {
            foreach (var e in Read(table)) yield return e.Key;
        }

        public IEnumerable<NbEntry> Read(string table = null)
        {
            if (!File.Exists(Path)) yield break;
            using (var reader = OpenText())
            {
                string line;
                int number = 0;
                while ((line = reader.ReadLine()) != null)
                {
                    number++;
                    if (line.Length == 0) continue;
                    var entry = ParseEntry(line, number);
                    if (entry == null) continue;
                    if (table == null || entry.Key.Table == table) yield return entry;
                }
            }
        }

        TextReader OpenText()
        {
            Stream s;
            try { s = new FileStream(Path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16); }
            catch (IOException e) { throw new NbStoreException($"Cannot read '{Path}': {e.Message}", e); }
            catch (UnauthorizedAccessException e) { throw new NbStoreException($"Cannot read '{Path}': {e.Message}", e); }
            if (Compressed) s = new GZipStream(s, CompressionMode.Decompress);
            return new StreamReader(s, new UTF8Encoding(false), false, 1 << 16);
        }

        JsonDocument ParseLine(string line, int number)
        {
            try { return JsonDocument.Parse(line); }
            catch (JsonException e) { throw Malformed(number, $"not valid JSON ({e.Message})"); }
        }

        NbEntry ParseEntry(string line, int number)
        {
            using (var doc = ParseLine(line, number))
            {
                var root = doc.RootElement;
                if (root.ValueKind != JsonValueKind.Object) throw Malformed(number, "a line must be a JSON object");
                if (number == 1 && root.TryGetProperty("header", out _)) return null;
                string table = RequiredString(root, "table", number);
                string id = RequiredString(root, "id", number);
                string topic = null;
                if (root.TryGetProperty("topic", out var t) && t.ValueKind != JsonValueKind.Null)
                {
                    if (t.ValueKind != JsonValueKind.String) throw Malformed(number, "'topic' must be a string or null");
                    topic = t.GetString();
                }
                if (!root.TryGetProperty("value", out var value)) throw Malformed(number, "'value' is missing");
                return new NbEntry(new NbKey(table, topic, id), Encoding.UTF8.GetBytes(value.GetRawText()));
            }
        }

        string RequiredString(JsonElement root, string name, int number)
        {
            if (!root.TryGetProperty(name, out var v) || v.ValueKind != JsonValueKind.String || v.GetString().Length == 0)
                throw Malformed(number, $"'{name}' must be a non-empty string");
            return v.GetString();
        }

        NbStoreException Malformed(int line, string why) =>
            new NbStoreException($"{Path}, line {line}: {why}. Fix or remove that line; nothing was written.");

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
            var header = ReadHeader();
            WriteFile(Path, header, Ordered(order, content));
            progress?.Report(changes.Count);
        }

        static IEnumerable<NbEntry> Ordered(List<NbKey> order, Dictionary<NbKey, ReadOnlyMemory<byte>> content)
        {
            foreach (var key in order)
                if (content.TryGetValue(key, out var v)) yield return new NbEntry(key, v);
        }

        /// <summary>
        /// Writes a whole embedded database: to a temporary file beside <paramref name="path"/>,
        /// flushed to disk, then renamed over it. Returns the SHA-256 of the object lines.
        /// </summary>
        public static string WriteFile(string path, JsonElement? header, IEnumerable<NbEntry> entries, bool ownerOnly = false)
        {
            path = System.IO.Path.GetFullPath(path);
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
                if (File.Exists(path)) File.Replace(temp, path, null);
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
