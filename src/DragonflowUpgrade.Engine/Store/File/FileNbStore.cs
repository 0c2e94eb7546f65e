using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.IO.Compression;
using System.Linq;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;

namespace DragonflowUpgrade.Engine.Store
{
    /// <summary>
    /// The embedded NB database: a <c>.jsonl</c> or <c>.jsonl.gz</c> file, one object a line,
    /// <c>{"table":..,"topic":..,"id":..,"value":..}</c>. An optional first line
    /// <c>{"header":{..}}</c> describes a backup, or counts the module's own objects. Every write
    /// rewrites the file to a temporary file and renames it over the old one, so a crash leaves
    /// either the old or the new file.
    /// </summary>
    /// <remarks>
    /// The module's own objects (the migration log and its <c>df_upgrade_</c> tables) are written
    /// first, and the header says how many they are (<c>module_objects</c>) and how many bytes the
    /// object lines take (<c>object_bytes</c>): a read of only their tables (a run with nothing
    /// pending) reads those lines and the next, not the whole file. Every other read checks that
    /// they are where the header says. A file whose length is not the header's was changed by
    /// something else since: its count is not trusted, and it is read whole. (A change that keeps
    /// the length, and the count, is not told apart so: a whole read still refuses a module's object
    /// out of place, and every write reads the file whole.) A compressed file is always read whole:
    /// gzip files joined one after another give no length of all they hold, and only a whole read
    /// finds them out (on .NET Core; see CheckTrailer).
    /// </remarks>
    public sealed class FileNbStore : INbStore
    {
        public FileNbStore(string path, bool create = false)
        {
            // The real file, links resolved, so writes replace it rather than a link to it, and
            // the lock and the path comparisons are the same however the file is named.
            Path = RealPath(path);
            if (!IsFileStorePath(path))
                throw new NbStoreException($"'{path}' is not an embedded NB database: its name must end in .jsonl or .jsonl.gz.");
            if (Directory.Exists(Path)) throw FolderGiven(Path);
            if (!create && !File.Exists(Path))
                throw new NbStoreException($"No NB database file at '{Path}'.");
            if (File.Exists(Path) && !FileModes.IsRegularFile(Path))
                throw new NbFileInvalidException(Path, 0, "is not a regular file (a pipe, socket or device): it cannot be read as an NB database.", "Copy the database into a regular file and name that.");
            Parts = new FileParts(Path);
        }

        public NbStoreParts Parts { get; }

        sealed class FileParts : NbStoreParts
        {
            readonly string _path;
            public FileParts(string path) { _path = path; }

            /// <summary>The file <c>&lt;database&gt;.lock</c> beside the database.</summary>
            public override ILockSlot LockSlot(NbKey key) => new FileLockSlot(_path + ".lock");

            // The file is rewritten whole on every write, atomically: one write is both cheaper and safer.
            public override int WriteRound(int changes) => Math.Max(1, changes);

            // A write replaces the whole file at once, so the journal's file beside the backup is
            // enough: a copy in the database would cost two more rewrites of it.
            public override bool KeepsJournal => false;

            // A database file's full path always has a folder.
            public override string DefaultBackupFolder => System.IO.Path.Combine(System.IO.Path.GetDirectoryName(_path)!, "df-backups");

            public override string BackupName => System.IO.Path.GetFileName(_path).Split('.')[0];
        }

        /// <summary>A folder named where a database or backup file is read.</summary>
        internal static NbFileInvalidException FolderGiven(string path) =>
            new NbFileInvalidException(path, 0, "is a folder, not an NB database or backup file.", "Name the .jsonl or .jsonl.gz file in it.");

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

        /// <summary>One pass over the file; over the module's objects only, when only their tables are wanted.</summary>
        public IEnumerable<NbEntry> ReadTables(IReadOnlyCollection<string> tables)
        {
            var wanted = NbTables.Distinct(tables);
            return ReadObjects(null, wanted.Count > 0 && wanted.All(IsModuleObject)).Where(e => wanted.Contains(e.Key.Table));
        }

        /// <summary>Whether an object of <paramref name="table"/> is the module's own, which a file keeps first: the migration log's and the module's tables'.</summary>
        static bool IsModuleObject(string table) => table == Migrations.MigrationLog.Table || ModuleTables.IsModuleTable(table);

        public IEnumerable<NbKey> ReadKeys(string? table = null)
        {
            foreach (var e in Read(table)) yield return e.Key;
        }

        /// <summary>
        /// Reads the file strictly: every line UTF-8 JSON of the format, no key twice; a compressed
        /// file must be whole. When the file has a header with an object count and a checksum, they
        /// are checked at the end of the read. Values are taken as the bytes they are in the line;
        /// which values the module takes is <see cref="StoredValue.Checked(INbStore, string)"/>'s to say.
        /// (A byte order mark at the start, CRLF line ends and blank lines after the first are accepted;
        /// a header is on line 1 or nowhere.) A table of
        /// the module's own is read from the lines the header counts for the module's objects (and the
        /// next, which must not be one) when the file is as long as its header says, is not compressed,
        /// and its header has no checksum (which only a whole read checks). Such a read does not see the rest of the file:
        /// any other read does, and so does every write.
        /// </summary>
        public IEnumerable<NbEntry> Read(string? table = null) => ReadObjects(table, table != null && IsModuleObject(table));

        IEnumerable<NbEntry> ReadObjects(string? table, bool moduleObjectsOnly)
        {
            CheckedAgainstHeader = null;
            if (!File.Exists(Path)) yield break;
            var seen = new Dictionary<NbKey, int>();
            var hash = new ContentHash();
            int count = 0;
            (int Objects, string Checksum)? expected = null;
            int? moduleObjects = null;
            // The values handed out in a few large buffers, and one copy of each table and topic name:
            // a million small arrays and strings cost more to allocate and collect than to parse.
            var names = new NameTable();
            var values = new ByteArena();
            foreach (var line in Lines())
            {
                var entry = ParseEntry(line.Bytes, line.Number, names);
                if (entry == null)
                {
                    using (var doc = ParseLine(line.Bytes, 1))
                    {
                        var header = doc.RootElement.GetProperty("header");
                        expected = Expected(header);
                        moduleObjects = ModuleObjects(header, line.End, line.FileLength);
                    }
                    continue;
                }
                var (key, value) = entry.Value;
                if (moduleObjects.HasValue && (count < moduleObjects) != IsModuleObject(key.Table))
                    throw MisplacedModuleObject(line.Number, count < moduleObjects
                        ? $"its header's 'module_objects' says the file starts with {moduleObjects} of the module's own objects (the migration log's and its {ModuleTables.Prefix} tables'), but this object is of table '{key.Table}'"
                        : $"{key} is one of the module's own objects, which its header's 'module_objects' says are the file's first {moduleObjects}");
                // The module's objects are read, and the line after them is not one: the rest is not read (unless a checksum is to be checked).
                if (moduleObjectsOnly && count == moduleObjects && !expected.HasValue) yield break;
                if (seen.TryGetValue(key, out int first))
                    throw Malformed(line.Number, $"{key} is stored again, first on line {first}; a database holds one value per key");
                seen.Add(key, line.Number);
                count++;
                if (expected.HasValue) AddLine(hash, line.Bytes);
                // The line is a part of a buffer the next line reuses: a value handed out is a copy.
                if (table == null || key.Table == table) yield return new NbEntry(key, values.Copy(value.Span));
            }
            if (count < moduleObjects)
                throw new NbFileInvalidException(Path, 1, $"holds {count} objects, but its header's 'module_objects' says the module's own are its first {moduleObjects}: it was truncated or edited.",
                    "Restore the file from a copy; if only the header was edited, remove its 'module_objects'.");
            if (expected.HasValue)
            {
                if (count != expected.Value.Objects)
                    throw new NbFileInvalidException(Path, 0, $"holds {count} objects but its header says {expected.Value.Objects}: it was truncated or edited.",
                        "Restore the file from a copy; if the header is what was edited, put its count back.");
                if (!string.Equals(hash.Finish(), expected.Value.Checksum, StringComparison.OrdinalIgnoreCase))
                    throw new NbFileInvalidException(Path, 0, "its content does not match the checksum in its header: it was edited or damaged after it was written.",
                        "Restore the file from a copy.");
                if (table == null) CheckedAgainstHeader = expected;
            }
        }

        /// <summary>The object count and checksum of the header that the last whole <see cref="Read"/> found the file's lines to match; null when it had none.</summary>
        internal (int Objects, string Checksum)? CheckedAgainstHeader { get; private set; }

        static readonly byte[] NewLine = { (byte)'\n' };

        // The header's checksum is of the lines as FormatLine formats them, which is how a file with
        // one was written: each line's bytes and its newline.
        static void AddLine(ContentHash hash, ReadOnlyMemory<byte> line)
        {
            if (MemoryMarshal.TryGetArray(line, out var bytes)) hash.Add(bytes.Array!, bytes.Offset, bytes.Count);  // Lines() gives segments of its buffer
            hash.Add(NewLine);
        }

        /// <summary>
        /// The number of object lines (every line after the header) and the SHA-256 a header's
        /// checksum is, without parsing them: for a file just written from objects already checked,
        /// where what is left to find is a line the disk lost, added or changed.
        /// </summary>
        internal (int Lines, string Checksum) HashObjectLines()
        {
            var hash = new ContentHash();
            int count = 0;
            foreach (var line in Lines())
            {
                if (line.Number == 1) continue;  // the header, as the file was just written
                AddLine(hash, line.Bytes);
                count++;
            }
            return (count, hash.Finish());
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
            return (objects, sum.GetString()!);  // a JSON string's text is never null
        }

        // How many of the first objects are the module's own, when the header says and the file is as
        // long as when the header was written (its object lines start at headerEnd; fileLength is null
        // for a compressed file, whose length is known only once it is read whole): otherwise, null.
        int? ModuleObjects(JsonElement header, long headerEnd, long? fileLength)
        {
            if (!header.TryGetProperty("module_objects", out var n)) return null;
            if (n.ValueKind != JsonValueKind.Number || !n.TryGetInt32(out int count) || count < 0)
                throw MisplacedModuleObject(1, "the header's 'module_objects' must be a count");
            if (!header.TryGetProperty("object_bytes", out var b)) return null;
            if (b.ValueKind != JsonValueKind.Number || !b.TryGetInt64(out long bytes) || bytes < 0 || bytes > long.MaxValue - headerEnd)
                throw MisplacedModuleObject(1, "the header's 'object_bytes' must be a count of the file's bytes");
            long length = headerEnd + bytes;
            return fileLength == length ? count : (int?)null;
        }

        // The size a gzip file's trailer gives for what it holds (modulo 2^32); null when the file is too short to have one.
        static uint? GzipSize(FileStream file)
        {
            if (file.Length < 18) return null;
            var tail = new byte[4];
            file.Seek(-4, SeekOrigin.End);
            int got = 0, n;
            while (got < 4 && (n = file.Read(tail, got, 4 - got)) > 0) got += n;
            return (uint)(tail[0] | tail[1] << 8 | tail[2] << 16 | tail[3] << 24);
        }

        // The header's count does not fit the file: removing it loses nothing, where removing a line would.
        NbFileInvalidException MisplacedModuleObject(int line, string why) =>
            new NbFileInvalidException(Path, line, why + ".",
                "Remove 'module_objects' and 'object_bytes' from the header on line 1 (or restore the file from a copy): the file is then read whole, and the module's next write puts its objects first again.");

        // The file's lines, as UTF-8 bytes without the line end, and where the next line starts (in the
        // bytes uncompressed); blank lines are left out. With each, the file's length as it was opened
        // (null for a compressed one: see ModuleObjects). A compressed file must end with its gzip trailer,
        // counting all it holds: a cut one is refused, not read short, and so is one of several gzip members.
        IEnumerable<(int Number, ReadOnlyMemory<byte> Bytes, long End, long? FileLength)> Lines()
        {
            FileStream file;
            try { file = new FileStream(Path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16); }
            catch (Exception e) when (e is IOException || e is UnauthorizedAccessException) { throw new NbStoreException($"Cannot read '{Path}': {e.Message}", e); }
            using (file)
            {
                long? fileLength = Compressed ? null : file.Length;
                Stream s = Compressed ? new GZipStream(file, CompressionMode.Decompress) : (Stream)file;
                var buffer = new byte[1 << 16];
                int start = 0, end = 0, number = 0;
                long total = 0, dropped = 0;  // bytes read, and bytes moved out of the buffer
                bool eof = false;
                while (true)
                {
                    int nl = Array.IndexOf(buffer, (byte)'\n', start, end - start);
                    if (nl < 0 && !eof)
                    {
                        // Move the partial line to the front, growing the buffer for a long line.
                        if (start > 0) { Buffer.BlockCopy(buffer, start, buffer, 0, end - start); end -= start; dropped += start; start = 0; }
                        if (end == buffer.Length)
                        {
                            if (buffer.Length >= LongestLine)
                                throw new NbFileInvalidException(Path, number + 1, $"is {LongestLine.ToString("N0", CultureInfo.InvariantCulture)} bytes long or longer, longer than any object a database holds (Redis's values end at 512 MiB).",
                                    "Restore the file from a copy: this line is not an NB object.");
                            Array.Resize(ref buffer, (int)Math.Min(2L * buffer.Length, LongestLine));
                        }
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
                    yield return (number, new ReadOnlyMemory<byte>(buffer, from, lineEnd - from), dropped + start, fileLength);
                }
            }
        }

        /// <summary>The length in bytes at which a line is refused: 1 GiB, twice what a Redis value may be, and half what an array may be. (Checked as the line buffer, 64 KiB at first, fills.)</summary>
        internal int LongestLine { get; set; } = 1 << 30;

        int ReadSome(Stream s, byte[] buffer, int at)
        {
            try { return s.Read(buffer, at, buffer.Length - at); }
            catch (Exception e) when (e is InvalidDataException || e is EndOfStreamException || e is NotSupportedException)
            {
                throw new NbFileInvalidException(Path, 0, $"is not a whole gzip file ({e.Message}).", "Restore the file from a copy; a .jsonl.gz name must hold gzip-compressed lines.", e);
            }
        }

        // gzip ends with the length of what it holds, modulo 2^32: a file cut short ends with other bytes.
        // So does a file of several gzip members, whose last trailer counts only the last member: it may be
        // whole, but this reader cannot tell it from one cut short ('gzip -t' can), so it is refused too,
        // saying both. (On .NET Framework, GZipStream reads only the first member: there a file whose
        // first and last members are as long is read as its first member alone.)
        void CheckTrailer(FileStream file, long total)
        {
            const string Restore = "Restore the file from a copy.";
            var size = GzipSize(file);
            if (size == null)
                throw new NbFileInvalidException(Path, 0, $"is not a whole gzip file: at {file.Length} bytes it is too short to be one.", Restore);
            if (size != (uint)total)
                throw new NbFileInvalidException(Path, 0,
                    "is not a whole gzip file: the length at its end is not that of what it holds. It was cut short, has bytes after its end, or is several gzip files joined one after another (as 'cat a.gz b.gz' or 'gzip -c b >> a.gz' make them), which this reader cannot tell apart.",
                    Restore + " If 'gzip -t' finds no error in it, it is whole gzip files joined: 'gunzip' it, then 'gzip' it, and run again.");
        }

        static bool IsBlank(byte[] b, int from, int to)
        {
            for (int i = from; i < to; i++)
                if (b[i] != ' ' && b[i] != '\t' && b[i] != '\r') return false;
            return true;
        }

        JsonDocument ParseLine(ReadOnlyMemory<byte> line, int number)
        {
            if (!Json.NbJson.IsUtf8(line.Span)) throw Malformed(number, "not UTF-8 text");
            try { return JsonDocument.Parse(line, LineOptions); }
            catch (JsonException e) { throw Malformed(number, Json.NbJson.NotJson(e)); }
        }

        // A value may be nested StoredValue.MaxDepth deep (one more in the module's journal rows); a line holds it one level down.
        static readonly JsonReaderOptions LineReaderOptions = new JsonReaderOptions { MaxDepth = StoredValue.MaxDepth + 2 };

        // One pass over an object line: its key, and its value as the bytes it is in the line
        // (until the next line is read). Null for the file's header line.
        (NbKey Key, ReadOnlyMemory<byte> Value)? ParseEntry(ReadOnlyMemory<byte> line, int number, NameTable names)
        {
            var bytes = line.Span;
            if (!Json.NbJson.IsUtf8(bytes)) throw Malformed(number, "not UTF-8 text");
            string? table = null, id = null, topic = null;
            bool hasHeader = false, hasValue = false, hasTopic = false;
            int valueStart = 0, valueEnd = 0;
            var r = new Utf8JsonReader(bytes, LineReaderOptions);
            try
            {
                r.Read();
                if (r.TokenType != JsonTokenType.StartObject) throw Malformed(number, "a line must be a JSON object");
                while (r.Read() && r.TokenType == JsonTokenType.PropertyName)
                {
                    // A member given twice would otherwise be read as its last copy.
                    if ((r.ValueTextEquals("table") && table != null) || (r.ValueTextEquals("id") && id != null) ||
                        (r.ValueTextEquals("topic") && hasTopic) || (r.ValueTextEquals("value") && hasValue))
                        throw Malformed(number, $"'{r.GetString()}' appears twice in the line; a line names each of table, topic, id and value once");
                    if (r.ValueTextEquals("table")) table = RequiredString(ref r, "table", number, names);
                    else if (r.ValueTextEquals("id"))
                    {
                        r.Read();
                        id = r.TokenType == JsonTokenType.String ? Text(ref r, "id", number) : throw Malformed(number, "'id' must be a string");
                    }
                    else if (r.ValueTextEquals("topic"))
                    {
                        hasTopic = true;
                        r.Read();
                        if (r.TokenType != JsonTokenType.Null && r.TokenType != JsonTokenType.String) throw Malformed(number, "'topic' must be a string or null");
                        topic = r.TokenType == JsonTokenType.Null ? null : Name(ref r, "topic", number, names);
                    }
                    else
                    {
                        bool isValue = r.ValueTextEquals("value");
                        hasHeader |= !isValue && r.ValueTextEquals("header");
                        r.Read();
                        if (isValue) { hasValue = true; valueStart = (int)r.TokenStartIndex; }
                        r.Skip();
                        if (isValue) valueEnd = (int)r.BytesConsumed;
                    }
                }
                if (r.Read()) throw Malformed(number, "a line must hold one JSON object");
            }
            catch (JsonException e) { throw Malformed(number, Json.NbJson.NotJson(e)); }
            catch (InvalidOperationException e) { throw Malformed(number, $"not valid JSON ({e.Message})"); }
            if (hasHeader && (table != null || id != null || hasValue || hasTopic))
                throw Malformed(number, "holds both a header and an object's members; a header line holds only its 'header'");
            if (hasHeader && number == 1) return null;
            if (hasHeader)
                throw new NbFileInvalidException(Path, number, "holds a header, which only the file's first line may hold" +
                    (Compressed ? ", as gzip files joined one after another (as 'cat a.gz b.gz' makes them) do." : "."),
                    "Restore the file from a copy if it was made by joining files; otherwise move the header to the very first line (no blank line above it) or remove it, then run again.");
            if (table == null) throw Malformed(number, "'table' must be a non-empty string");
            if (id == null) throw Malformed(number, "'id' must be a string");
            if (!hasValue) throw Malformed(number, "'value' is missing");
            var key = new NbKey(table, topic, id);
            if (id.Length == 0) throw new NbValueInvalidException(Path, key, StoredValue.EmptyId);
            return (key, line.Slice(valueStart, valueEnd - valueStart));
        }

        string RequiredString(ref Utf8JsonReader r, string name, int number, NameTable names)
        {
            r.Read();
            string? s = r.TokenType == JsonTokenType.String ? Name(ref r, name, number, names) : null;
            if (s == null || s.Length == 0) throw Malformed(number, $"'{name}' must be a non-empty string");
            return s;
        }

        // A table's or topic's name: one string for all the lines that name it. (The line is UTF-8, checked.)
        string Name(ref Utf8JsonReader r, string member, int number, NameTable names) =>
            r.ValueIsEscaped ? names.Share(Text(ref r, member, number)!) : names.Share(r.ValueSpan);

        // A JSON string's text; an escape of half a UTF-16 surrogate pair (\ud800) has none.
        string? Text(ref Utf8JsonReader r, string name, int number)
        {
            try { return r.GetString(); }
            catch (InvalidOperationException) { throw Malformed(number, $"'{name}' is not text: it escapes half a UTF-16 surrogate pair (\\uD800-\\uDFFF alone)"); }
        }

        NbFileInvalidException Malformed(int line, string why) =>
            new NbFileInvalidException(Path, line, why + ".", "Fix or remove that line (or restore the file from a copy), then run again.");

        public void Write(IReadOnlyCollection<NbEntry> changes, IProgress<int>? progress = null) => Write(changes, null, progress);

        // The file is read and rewritten whole in one write, so the check is of the whole batch against the file as it is then.
        public void WriteIf(IReadOnlyCollection<NbEntry> changes, Func<NbKey, ReadOnlyMemory<byte>?> expected, IProgress<int>? progress = null) =>
            Write(changes, expected ?? throw new ArgumentNullException(nameof(expected)), progress);

        void Write(IReadOnlyCollection<NbEntry> changes, Func<NbKey, ReadOnlyMemory<byte>?>? expected, IProgress<int>? progress)
        {
            // Keep the file's order; new objects go at the end (of the module's objects, or of the others).
            // A key deleted stays in the order, its value null, so that a put after it does not add it again.
            var content = new Dictionary<NbKey, ReadOnlyMemory<byte>?>();
            var order = new List<NbKey>();
            foreach (var e in Read())
            {
                order.Add(e.Key);
                content.Add(e.Key, e.Value);
            }
            if (expected != null)
            {
                var changed = new List<NbKey>();
                foreach (var c in changes)
                {
                    var old = expected(c.Key);
                    var now = content.TryGetValue(c.Key, out var v) ? v : null;
                    bool same = old is ReadOnlyMemory<byte> was ? now is ReadOnlyMemory<byte> n && n.Span.SequenceEqual(was.Span) : now == null;
                    if (!same) changed.Add(c.Key);
                }
                if (changed.Count > 0) throw new NbConflictException(Location, changed, 0);
            }
            foreach (var c in changes)
            {
                if (!content.ContainsKey(c.Key)) order.Add(c.Key);
                content[c.Key] = c.IsDelete ? (ReadOnlyMemory<byte>?)null : c.Value;
            }
            var entries = Ordered(order.Where(k => IsModuleObject(k.Table)), content).ToList();
            int moduleObjects = entries.Count;
            entries.AddRange(Ordered(order.Where(k => !IsModuleObject(k.Table)), content));
            WriteFile(Path, Header(ReadHeader(), entries, moduleObjects), entries);
            progress?.Report(changes.Count);
        }

        // The header of what is written now: the count of the module's objects, the bytes of the object
        // lines, and, where the header states them (a backup's), the object count and checksum.
        static JsonElement Header(JsonElement? header, List<NbEntry> entries, int moduleObjects)
        {
            bool counts = header.HasValue && header.Value.TryGetProperty("objects", out _) && header.Value.TryGetProperty("checksum", out _);
            var buffer = new MemoryStream();
            using (var w = new Utf8JsonWriter(buffer))
            {
                w.WriteStartObject();
                if (header.HasValue)
                    foreach (var p in header.Value.EnumerateObject())
                    {
                        if (p.NameEquals("module_objects") || p.NameEquals("object_bytes")) continue;
                        if (counts && p.NameEquals("objects")) w.WriteNumber("objects", entries.Count);
                        else if (counts && p.NameEquals("checksum")) w.WriteString("checksum", Checksum(entries));
                        else p.WriteTo(w);
                    }
                w.WriteNumber("module_objects", moduleObjects);
                w.WriteNumber("object_bytes", entries.Sum(LineLength));
                w.WriteEndObject();
            }
            using (var doc = JsonDocument.Parse(buffer.ToArray())) return doc.RootElement.Clone();
        }

        // The bytes FormatLine gives an entry, counted without formatting it: the value goes in as it is,
        // and the names as JSON strings. (A count that came out otherwise would only have the file read whole.)
        static long LineLength(NbEntry e) =>
            "{\"table\":,\"topic\":,\"id\":,\"value\":}\n".Length + Quoted(e.Key.Table) + (e.Key.Topic == null ? 4 : Quoted(e.Key.Topic)) + Quoted(e.Key.Id) + e.Value.Length;

        // A JSON string's bytes as the writer escapes it (its default encoder): printable ASCII but for
        // what HTML gives a meaning, as it is; anything else, as the encoder says.
        static int Quoted(string s)
        {
            foreach (char c in s)
                if (c < ' ' || c > '~' || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' || c == '\'' || c == '+' || c == '`')
                    return JsonEncodedText.Encode(s).EncodedUtf8Bytes.Length + 2;
            return s.Length + 2;
        }

        /// <summary>SHA-256 of the lines the file format gives these entries, as a header states it.</summary>
        internal static string Checksum(IEnumerable<NbEntry> entries)
        {
            var hash = new ContentHash();
            var lines = new ReusedJsonWriter();
            foreach (var e in entries)
            {
                var line = FormatLine(lines, e);
                hash.Add(line.Array!, line.Offset, line.Count);  // a segment of the writer's buffer
            }
            return hash.Finish();
        }

        static IEnumerable<NbEntry> Ordered(IEnumerable<NbKey> order, Dictionary<NbKey, ReadOnlyMemory<byte>?> content)
        {
            foreach (var key in order)
                if (content[key] is ReadOnlyMemory<byte> v) yield return new NbEntry(key, v);
        }

        /// <summary>
        /// Writes a whole embedded database: to a temporary file beside <paramref name="path"/>,
        /// flushed to disk, then renamed over it (the file a link names, not the link). Unless
        /// <paramref name="replace"/>, an existing file is never replaced: the write is refused.
        /// Returns the SHA-256 of the object lines.
        /// </summary>
        public static string WriteFile(string path, JsonElement? header, IEnumerable<NbEntry> entries, bool ownerOnly = false, bool replace = true)
        {
            var hash = new ContentHash();
            WriteFile(path, header, entries, ownerOnly, replace, hash);
            return hash.Finish();
        }

        /// <summary>
        /// <see cref="WriteFile(string, JsonElement?, IEnumerable{NbEntry}, bool, bool)"/>, adding the object
        /// lines to <paramref name="hash"/> when given: a caller that has the checksum already and
        /// reads the file back against it leaves the lines unhashed.
        /// </summary>
        internal static void WriteFile(string path, JsonElement? header, IEnumerable<NbEntry> entries, bool ownerOnly, bool replace, ContentHash? hash)
        {
            string? temp = null;
            try
            {
                path = RealPath(path);
                string dir = System.IO.Path.GetDirectoryName(path)!;  // a full file path always has a folder
                Directory.CreateDirectory(dir);
                temp = System.IO.Path.Combine(dir, "." + System.IO.Path.GetFileName(path) + ".tmp-" + Guid.NewGuid().ToString("N"));
                using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
                {
                    if (ownerOnly) FileModes.SetOwnerOnly(temp);
                    else if (replace && File.Exists(path)) FileModes.CopyPermissions(path, temp);
                    Stream s = path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase)
                        ? new GZipStream(file, CompressionLevel.Fastest, leaveOpen: true) : (Stream)file;
                    if (header.HasValue)
                    {
                        var h = Encoding.UTF8.GetBytes("{\"header\":" + header.Value.GetRawText() + "}\n");
                        s.Write(h, 0, h.Length);
                    }
                    // Each line is formatted once, and the bytes hashed are the bytes written.
                    var lines = new ReusedJsonWriter();
                    foreach (var e in entries)
                    {
                        var line = FormatLine(lines, e);
                        hash?.Add(line.Array!, line.Offset, line.Count);  // a segment of the writer's buffer
                        s.Write(line.Array!, line.Offset, line.Count);
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
                if (temp != null) TryDelete(temp);
                throw new NbStoreException($"Cannot write '{path}': {e.Message}", e);
            }
            catch
            {
                if (temp != null) TryDelete(temp);
                throw;
            }
        }

        /// <summary>One line of the file format for an entry, with its line end, in <paramref name="lines"/>' buffer (valid until its next line).</summary>
        internal static ArraySegment<byte> FormatLine(ReusedJsonWriter lines, NbEntry e)
        {
            var w = lines.Start();
            w.WriteStartObject();
            w.WriteString("table", e.Key.Table);
            if (e.Key.Topic == null) w.WriteNull("topic"); else w.WriteString("topic", e.Key.Topic);
            w.WriteString("id", e.Key.Id);
            w.WritePropertyName("value");
            w.WriteRawValue(e.Value.Span, skipInputValidation: true);
            w.WriteEndObject();
            return lines.Finish((byte)'\n');
        }

        static void TryDelete(string path)
        {
            try { File.Delete(path); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }

        public void Dispose() { }
    }
}
