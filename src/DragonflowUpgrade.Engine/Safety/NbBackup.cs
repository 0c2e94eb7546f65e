using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;
using System.Text.Json;
using DragonflowUpgrade.Engine.Migrations;
using DragonflowUpgrade.Engine.Store;

namespace DragonflowUpgrade.Engine.Safety
{
    /// <summary>What a backup's header says.</summary>
    public sealed class BackupInfo
    {
        public string Path { get; internal set; } = "";
        public DateTimeOffset CreatedAt { get; internal set; }
        /// <summary>The database it was taken from, without secrets; null when the header does not say.</summary>
        public string? Source { get; internal set; }
        /// <summary>The schema release the database was at, when its migration log says.</summary>
        public string? SchemaRelease { get; internal set; }
        public int Objects { get; internal set; }
        /// <summary>SHA-256 of the object lines; null when the header does not say (<see cref="NbBackup.Load"/> and <see cref="NbBackup.Verify"/> refuse such a backup).</summary>
        public string? Checksum { get; internal set; }
        public long Size { get; internal set; }
    }

    /// <summary>
    /// Backups of an NB database: the whole database in the embedded file format, objects in
    /// (table, topic, id) order, under a header line with the time, the source, the schema
    /// release, the object count and the SHA-256 of the object lines. The module's own tables
    /// (lock, journal) are left out. A backup is written to a temporary file, readable by its
    /// owner only, and renamed into place; it can be opened as a database.
    /// </summary>
    public static class NbBackup
    {
        public const string Format = "dragonflow-upgrade-backup";

        /// <summary>
        /// Writes a backup of <paramref name="store"/> to <paramref name="path"/> (ending .jsonl or .jsonl.gz);
        /// an existing file there is replaced only when <paramref name="overwrite"/>.
        /// </summary>
        public static BackupInfo Write(INbStore store, string path, IProgress<int>? progress = null, bool overwrite = false)
        {
            CheckPath(path);
            var entries = new List<NbEntry>();
            foreach (var e in StoredValue.Checked(store))
            {
                if (ModuleTables.IsModuleTable(e.Key.Table)) continue;
                entries.Add(e);
                if (entries.Count % 10000 == 0) progress?.Report(entries.Count);
            }
            var info = Write(entries, store.Location, path, overwrite);
            progress?.Report(entries.Count);
            return info;
        }

        /// <summary>
        /// Writes a backup of objects already read from <paramref name="source"/>, so the database
        /// is not read twice. The file is then read back as a restore reads it; one that does not
        /// read back is removed and refused, so no backup exists that its restore would refuse.
        /// </summary>
        public static BackupInfo Write(IEnumerable<NbEntry> objects, string source, string path, bool overwrite = false) =>
            Write(objects, source, path, overwrite, ReadsBack);

        /// <summary>
        /// <see cref="Write(IEnumerable{NbEntry}, string, string, bool)"/> for a run's snapshot, taken
        /// under the upgrade lock: its objects were each read through <see cref="StoredValue.Checked(INbStore, string)"/>
        /// and its keys are each once, so the file is read back by its lines' count and SHA-256
        /// against the header, not parsed again.
        /// </summary>
        internal static BackupInfo WriteRunBackup(IEnumerable<NbEntry> objects, string source, string path) =>
            Write(objects, source, path, false, LinesReadBack);

        static BackupInfo Write(IEnumerable<NbEntry> objects, string source, string path, bool overwrite, Action<BackupInfo> readBack)
        {
            CheckPath(path);
            if (IsDatabaseFile(path, source))
                throw new BackupPathInvalidException(path, "is the database file itself: the commit would overwrite the backup.");
            if (!overwrite) CheckNew(path);
            var entries = objects.Where(e => !ModuleTables.IsModuleTable(e.Key.Table)).ToList();
            entries.Sort(CompareKeys);
            var info = new BackupInfo
            {
                Path = System.IO.Path.GetFullPath(path),
                CreatedAt = DateTimeOffset.UtcNow,
                Source = source,
                SchemaRelease = SchemaReleaseOf(entries),
                Objects = entries.Count,
                Checksum = Checksum(entries),
            };
            // The lines are hashed once, for the header: the file read back is checked against it,
            // so a line written other than it was hashed is found there.
            FileNbStore.WriteFile(info.Path, Header(info), entries, ownerOnly: true, replace: overwrite, hash: null);
            try { readBack(info); }
            catch (BackupInvalidException e)
            {
                try { File.Delete(info.Path); } catch (IOException) { } catch (UnauthorizedAccessException) { }
                throw new BackupInvalidException(info.Path, $"the backup just written does not read back, so it was removed: {e.InnerException?.Message ?? e.Problem}", e);
            }
            info.Size = new FileInfo(info.Path).Length;
            return info;
        }

        static void CheckPath(string path)
        {
            if (!FileNbStore.IsFileStorePath(path))
                throw new BackupPathInvalidException(path, "a backup file's name must end in .jsonl.gz (or .jsonl).");
        }

        /// <summary>
        /// Where a backup of <paramref name="store"/> goes, checked before anything is read:
        /// <paramref name="path"/> (a full path) names the file, or an existing folder (or one
        /// ending in a separator) that gets a timestamped file; null gives <see cref="DefaultPath"/>.
        /// A path that is the database itself or a file the run writes beside it is refused, and so
        /// is an existing file (or its journal) unless <paramref name="overwrite"/>.
        /// </summary>
        /// <exception cref="BackupPathInvalidException">The path cannot hold the backup.</exception>
        public static string ResolvePath(string? path, INbStore store, bool overwrite = false)
        {
            if (path == null) return DefaultPath(store);
            path = System.IO.Path.GetFullPath(path);
            if (Directory.Exists(path) || path.EndsWith(System.IO.Path.DirectorySeparatorChar.ToString()) || path.EndsWith(System.IO.Path.AltDirectorySeparatorChar.ToString()))
                return Unused(path, store);
            else if (!FileNbStore.IsFileStorePath(path))
                throw new BackupPathInvalidException(path, "is neither a folder nor a file whose name ends in .jsonl.gz (or .jsonl).");
            var comparison = PathComparison;
            string database = store.Location, real = FileNbStore.RealPath(path);
            if (IsDatabaseFile(path, database))
                throw new BackupPathInvalidException(path, "is the database file itself: the commit would overwrite the backup.");
            if (string.Equals(real, UpgradeLock.Where(store), comparison) || string.Equals(CommitJournal.JournalPathFor(real), database, comparison) ||
                string.Equals(FileNbStore.RealPath(CommitJournal.JournalPathFor(path)), database, comparison))
                throw new BackupPathInvalidException(path, "is a file the run writes beside the database (its lock or journal).");
            if (File.Exists(path) && !FileModes.IsRegularFile(path))
                throw new BackupPathInvalidException(path, "is not a regular file (a pipe, socket or device).");
            if (!overwrite) CheckNew(path);
            return path;
        }

        static StringComparison PathComparison =>
            RuntimeInformation.IsOSPlatform(OSPlatform.Windows) ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal;

        // Compared with links resolved, as the file store resolves the database's path.
        static bool IsDatabaseFile(string path, string database) =>
            string.Equals(path, database, PathComparison) || string.Equals(FileNbStore.RealPath(path), database, PathComparison);

        // A backup never replaces a file unless told to: it could be another database or an older backup.
        static void CheckNew(string path)
        {
            if (File.Exists(path))
                throw new BackupPathInvalidException(path, "already exists: a backup does not replace a file. Name a new file or a folder (Backup-DfNbDatabase -Force replaces it).");
            string journal = CommitJournal.JournalPathFor(path);
            if (File.Exists(journal))
                throw new BackupPathInvalidException(path, $"has a journal beside it ({System.IO.Path.GetFileName(journal)}) from an earlier run: name a new file or a folder.");
            if (Directory.Exists(journal))
                throw new BackupPathInvalidException(path, $"has a folder beside it where its journal goes ({System.IO.Path.GetFileName(journal)}): name a new file or a folder.");
        }

        /// <summary>A timestamped file in the store's default backup folder: a <c>df-backups</c> folder beside a file database, else in the user's home folder.</summary>
        public static string DefaultPath(INbStore store)
        {
            return Unused(store.Parts.DefaultBackupFolder, store);
        }

        static bool Taken(string path) => File.Exists(path) || Directory.Exists(path);

        // A timestamped backup path that no file or folder takes, nor its journal's: two runs in the same millisecond get two names.
        static string Unused(string folder, INbStore store)
        {
            string name = FileName(store);
            string path = System.IO.Path.Combine(folder, name + ".jsonl.gz");
            for (int n = 2; Taken(path) || Taken(CommitJournal.JournalPathFor(path)); n++)
                path = System.IO.Path.Combine(folder, $"{name}-{n}.jsonl.gz");
            return path;
        }

        // The timestamped name of a backup of a database, without its extension.
        static string FileName(INbStore store)
        {
            string name = new string(store.Parts.BackupName.Select(c => char.IsLetterOrDigit(c) || c == '-' || c == '_' ? c : '-').ToArray()).Trim('-');
            name = System.Text.RegularExpressions.Regex.Replace(name, "-+", "-");
            return $"{name}-{DateTimeOffset.UtcNow.ToString("yyyyMMdd'T'HHmmss.fff'Z'", CultureInfo.InvariantCulture)}";
        }

        /// <summary>The header of a backup, unverified; throws <see cref="BackupInvalidException"/> when it has none.</summary>
        public static BackupInfo ReadHeader(string path)
        {
            path = System.IO.Path.GetFullPath(path);
            if (Directory.Exists(path)) throw FileNbStore.FolderGiven(path);
            if (!FileNbStore.IsFileStorePath(path)) throw new BackupInvalidException(path, "this is not a backup: a backup's name ends in .jsonl.gz (or .jsonl).");
            if (!File.Exists(path)) throw new BackupInvalidException(path, "there is no backup at this path.");
            JsonElement? header;
            try { header = new FileNbStore(path).ReadHeader(); }
            catch (Exception e) when (e is NbStoreException || e is InvalidDataException || e is IOException)
            {
                throw new BackupInvalidException(path, $"the file is damaged ({e.Message})", e);
            }
            if (!header.HasValue || header.Value.ValueKind != JsonValueKind.Object ||
                !header.Value.TryGetProperty("format", out var f) || f.ValueKind != JsonValueKind.String || f.GetString() != Format)
                throw new BackupInvalidException(path, "this is not a backup made by Backup-DfNbDatabase: its first line is not a backup header.");
            var h = header.Value;
            return new BackupInfo
            {
                Path = path,
                CreatedAt = UpgradeLockInfo.ParseTime(Text(h, "created_at")) ?? DateTimeOffset.MinValue,
                Source = Text(h, "source"),
                SchemaRelease = Text(h, "schema_release"),
                Objects = h.TryGetProperty("objects", out var n) && n.ValueKind == JsonValueKind.Number && n.TryGetInt32(out int count) ? count : -1,
                Checksum = Text(h, "checksum"),
                Size = new FileInfo(path).Length,
            };
        }

        /// <summary>
        /// Reads a whole backup and checks it against its header: the object count and the
        /// checksum. A truncated or edited backup is refused with <see cref="BackupInvalidException"/>.
        /// </summary>
        public static (BackupInfo Info, IReadOnlyList<NbEntry> Entries) Load(string path, string? expectedChecksum = null)
        {
            var info = ReadCheckableHeader(path, expectedChecksum);
            return (info, ReadObjects(info));
        }

        /// <summary>
        /// The header of a backup that can be checked: it states the object count and checksum, and
        /// the checksum is <paramref name="expectedChecksum"/> (null: any). The objects are not read.
        /// </summary>
        internal static BackupInfo ReadCheckableHeader(string path, string? expectedChecksum)
        {
            var info = ReadHeader(path);
            if (info.Objects < 0 || info.Checksum == null)
                throw new BackupInvalidException(info.Path, "its header has no object count or checksum.");
            if (expectedChecksum != null && !string.Equals(info.Checksum, expectedChecksum, StringComparison.OrdinalIgnoreCase))
                throw new BackupInvalidException(info.Path, $"this is not the backup expected: its checksum is {info.Checksum}, not {expectedChecksum}.");
            return info;
        }

        /// <summary>The objects of the backup whose header <see cref="ReadCheckableHeader"/> gave, checked against its count and checksum.</summary>
        internal static List<NbEntry> ReadObjects(BackupInfo info) => ReadVerified(info.Path, info.Objects, info.Checksum!, "backup");

        /// <summary>
        /// Refuses (<see cref="BackupInvalidException"/>) a run's backup that is no longer where it was
        /// written: before a commit begins, the backup is the way back.
        /// </summary>
        internal static void RequireStillThere(BackupInfo backup)
        {
            // Its header is enough: another file put in its place has another checksum, or none.
            string? found = null;
            if (File.Exists(backup.Path))
                try { found = ReadHeader(backup.Path).Checksum; }
                catch (BackupInvalidException) { }
            if (found == null || !string.Equals(found, backup.Checksum, StringComparison.OrdinalIgnoreCase))
                throw new BackupInvalidException(backup.Path, "the run's backup was moved, deleted or replaced after it was written and read back, so its commit did not begin.", null,
                    "Run again: the run reads the database afresh and writes a new backup.");
        }

        /// <summary>
        /// Checks a backup before it is relied on, without holding it in memory: its header, the
        /// checksum expected (null: any), and every object against the header's count and checksum.
        /// </summary>
        public static BackupInfo Verify(string path, string? expectedChecksum)
        {
            var info = ReadCheckableHeader(path, expectedChecksum);
            ReadsBack(info);
            return info;
        }

        // Reads a backup just written as Load does (its header, every line, the count and checksum
        // the file store checks against the header), one object at a time rather than all at once.
        static void ReadsBack(BackupInfo info)
        {
            CheckHeaderWritten(info);
            try { foreach (var _ in StoredValue.Checked(new FileNbStore(info.Path))) { } }
            catch (Exception e) when (e is NbStoreException || e is IOException)
            {
                throw new BackupInvalidException(info.Path, $"the backup is damaged ({e.Message})", e);
            }
        }

        // Finds in a backup just written from checked objects the header written and every line
        // as it was hashed for it: a line lost, added, changed or cut short changes the count or the checksum.
        internal static void LinesReadBack(BackupInfo info)
        {
            CheckHeaderWritten(info);
            (int Lines, string Checksum) read;
            try { read = new FileNbStore(info.Path).HashObjectLines(); }
            catch (Exception e) when (e is NbStoreException || e is IOException)
            {
                throw new BackupInvalidException(info.Path, $"the backup is damaged ({e.Message})", e);
            }
            if (read.Lines != info.Objects)
                throw new BackupInvalidException(info.Path, $"it holds {read.Lines} object lines, not the {info.Objects} written.");
            if (!string.Equals(read.Checksum, info.Checksum, StringComparison.OrdinalIgnoreCase))
                throw new BackupInvalidException(info.Path, "its object lines are not the ones written: their SHA-256 is not the header's.");
        }

        static void CheckHeaderWritten(BackupInfo info)
        {
            var header = ReadHeader(info.Path);
            if (header.Objects != info.Objects || !string.Equals(header.Checksum, info.Checksum, StringComparison.OrdinalIgnoreCase))
                throw new BackupInvalidException(info.Path, "its header is not the one written.");
        }

        /// <summary>Reads the object lines of an embedded file and checks their count and SHA-256.</summary>
        internal static List<NbEntry> ReadVerified(string path, int count, string checksum, string what, string? recommendedAction = null)
        {
            var entries = new List<NbEntry>(Math.Max(0, count));
            FileNbStore file;
            try
            {
                file = new FileNbStore(path);
                entries.AddRange(StoredValue.Checked(file));
            }
            catch (Exception e) when (e is NbStoreException || e is InvalidDataException || e is IOException)
            {
                throw new BackupInvalidException(path, $"the {what} is damaged ({e.Message}).", e, recommendedAction);
            }
            if (entries.Count != count)
                throw new BackupInvalidException(path, $"the {what} holds {entries.Count} objects but its header says {count}: it was truncated or edited.", null, recommendedAction);
            // The read checked the lines as they are against the header's checksum: when that is the
            // checksum expected, hashing them again as they would be written finds nothing more.
            bool checkedByRead = file.CheckedAgainstHeader is (int objects, string sum) && objects == count && string.Equals(sum, checksum, StringComparison.OrdinalIgnoreCase);
            if (!checkedByRead && !string.Equals(Checksum(entries), checksum, StringComparison.OrdinalIgnoreCase))
                throw new BackupInvalidException(path, $"the {what}'s content does not match the checksum in its header: it was edited or damaged after it was written.", null, recommendedAction);
            return entries;
        }

        /// <summary>SHA-256 of the lines the embedded file format gives these entries.</summary>
        internal static string Checksum(IEnumerable<NbEntry> entries) => FileNbStore.Checksum(entries);

        internal static int CompareKeys(NbEntry a, NbEntry b) => CompareKeys(a.Key, b.Key);

        internal static int CompareKeys(NbKey a, NbKey b)
        {
            int c = string.CompareOrdinal(a.Table, b.Table);
            if (c == 0) c = string.CompareOrdinal(a.Topic ?? "", b.Topic ?? "");
            if (c == 0) c = string.CompareOrdinal(a.Id, b.Id);
            return c;
        }

        // A log row the backup cannot read does not stop the backup: it only goes unrecorded in the header.
        static string? SchemaReleaseOf(List<NbEntry> entries) =>
            MigrationLog.RecordedRelease(entries.Where(e => e.Key.Table == MigrationLog.Table).Select(e =>
            {
                try { return MigrationLogEntry.Parse(e); }
                catch (NbStoreException) { return null; }
            }).OfType<MigrationLogEntry>());

        static JsonElement Header(BackupInfo info)
        {
            var buffer = new MemoryStream();
            using (var w = new Utf8JsonWriter(buffer))
            {
                w.WriteStartObject();
                w.WriteString("format", Format);
                w.WriteNumber("version", 1);
                w.WriteString("created_at", UpgradeLockInfo.Format(info.CreatedAt));
                w.WriteString("source", info.Source);
                if (info.SchemaRelease == null) w.WriteNull("schema_release"); else w.WriteString("schema_release", info.SchemaRelease);
                w.WriteNumber("objects", info.Objects);
                w.WriteString("checksum", info.Checksum);
                w.WriteEndObject();
            }
            using (var doc = JsonDocument.Parse(buffer.ToArray())) return doc.RootElement.Clone();
        }

        static string? Text(JsonElement r, string name) =>
            r.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
    }
}
