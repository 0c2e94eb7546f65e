using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.IO.Compression;
using System.Linq;
using System.Security.Cryptography;
using System.Text;
using System.Threading.Tasks;
using DragonflowUpgrade.Engine.Errors;
using DragonflowUpgrade.Engine.Migrations;
using DragonflowUpgrade.Engine.Safety;
using DragonflowUpgrade.Engine.Store;
using Xunit;

namespace DragonflowUpgrade.Engine.Tests.Hostile
{
    /// <summary>
    /// Hostile input for the file store, backups and restore, and the values a store holds: each
    /// case is refused with its error id, names the culprit, leaves the data byte for byte as it
    /// was and shows no secret. (In the etcd collection: some cases write to the test etcd.)
    /// </summary>
    [Collection(EtcdCollection.Name)]
    public class FileHostileTests : IDisposable
    {
        // In a stored value of every database below, and the password of the Redis user: it must never come out.
        static readonly string Secret = "hostile-" + Guid.NewGuid().ToString("N");

        readonly string _dir = Directory.CreateTempSubdirectory("df-hostile-file-").FullName;

        public void Dispose() => Directory.Delete(_dir, true);

        static byte[] Utf8(string s) => Encoding.UTF8.GetBytes(s);

        static string Line(string table, string topic, string id, string value) =>
            $"{{\"table\":\"{table}\",\"topic\":{(topic == null ? "null" : "\"" + topic + "\"")},\"id\":\"{id}\",\"value\":{value}}}\n";

        static List<NbEntry> Objects => new List<NbEntry>
        {
            new NbEntry(new NbKey("lport", "t1", "p1"), Utf8($"{{\"id\": \"p1\", \"topic\": \"t1\", \"binding_profile\": {{\"password\": \"{Secret}\"}}}}")),
            new NbEntry(new NbKey("lswitch", "t1", "s1"), Utf8("{\"id\": \"s1\", \"topic\": \"t1\", \"mtu\": 1450}")),
            new NbEntry(new NbKey("unique_key", null, "lport"), Utf8("17")),
        };

        // A database file as the module writes it: a header that counts the module's objects (first in
        // the lines) and the bytes of the lines, which tells that nothing else changed the file since.
        static string Counted(string moduleObjects, string lines) =>
            $"{{\"header\":{{\"module_objects\":{moduleObjects},\"object_bytes\":{Encoding.UTF8.GetByteCount(lines)}}}}}\n" + lines;

        // The three objects as plain lines, without a header.
        static string PlainLines => string.Concat(Objects.Select(e => Line(e.Key.Table, e.Key.Topic, e.Key.Id, Encoding.UTF8.GetString(e.Value.Span))));

        static string Nested(int depth) => new string('[', depth - 1) + "{\"id\": \"deep\"}" + new string(']', depth - 1);

        // The text of a backup of Objects: a header line, then three object lines.
        string BackupText(string source = "redis://127.0.0.1:1/3")
        {
            string path = Path.Combine(_dir, "template-" + Guid.NewGuid().ToString("N") + ".jsonl");
            NbBackup.Write(Objects, source, path);
            string text = File.ReadAllText(path);
            File.Delete(path);
            return text;
        }

        static byte[] Gzip(byte[] data)
        {
            var buffer = new MemoryStream();
            using (var gz = new GZipStream(buffer, CompressionLevel.Optimal, leaveOpen: true)) gz.Write(data, 0, data.Length);
            return buffer.ToArray();
        }

        static string Hash(string path) => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(path)));

        static void NoSecretIn(Exception e)
        {
            Assert.DoesNotContain(Secret, e.ToString());
            if (e is DfException df)
            {
                Assert.DoesNotContain(Secret, df.Target ?? "");
                Assert.DoesNotContain(Secret, df.RecommendedAction ?? "");
            }
        }

        // A damaged database file: its name, its bytes (given a backup's text), the line named (0: the file), what the message says,
        // and what its advice says, where that is checked.
        public sealed record Damage(string File, Func<string, byte[]> Bytes, int Line, string Says, string? Advises = null);

        static readonly Dictionary<string, Damage> Damages = new Dictionary<string, Damage>
        {
            ["cut mid-line"] = new Damage("nb.jsonl", b => Utf8(b.Substring(0, b.Length - 20)), 4, "not valid JSON"),
            ["cut mid-file at a line end"] = new Damage("nb.jsonl", b => Utf8(b.Substring(0, b.TrimEnd('\n').LastIndexOf('\n') + 1)), 0, "holds 2 objects but its header says 3"),
            ["cut mid-file at a line end, then gzipped"] = new Damage("nb.jsonl.gz", b => Gzip(Utf8(b.Substring(0, b.TrimEnd('\n').LastIndexOf('\n') + 1))), 0, "holds 2 objects but its header says 3"),
            ["gzip without its trailer"] = new Damage("nb.jsonl.gz", b => Gzip(Utf8(b)).SkipLast(8).ToArray(), 0, "gzip"),
            ["gzip cut in half"] = new Damage("nb.jsonl.gz", b => { var z = Gzip(Utf8(b)); return z.Take(z.Length / 2).ToArray(); }, 0, "gzip"),
            ["gzip with a wrong length in its trailer"] = new Damage("nb.jsonl.gz", b => { var z = Gzip(Utf8(b)); z[z.Length - 4] ^= 0x01; return z; }, 0, "gzip"),
            ["two gzip members"] = new Damage("nb.jsonl.gz", b => { int cut = b.IndexOf('\n') + 1; return Gzip(Utf8(b.Substring(0, cut))).Concat(Gzip(Utf8(b.Substring(cut)))).ToArray(); }, 0, "several gzip files joined one after another", "If 'gzip -t' finds no error in it"),
            ["an empty gzip file"] = new Damage("nb.jsonl.gz", b => Array.Empty<byte>(), 0, "at 0 bytes it is too short to be one"),
            ["plain text named .jsonl.gz"] = new Damage("nb.jsonl.gz", b => Utf8(b), 0, "gzip"),
            ["header count edited"] = new Damage("nb.jsonl", b => Utf8(b.Replace("\"objects\":3", "\"objects\":4")), 0, "header says 4"),
            ["header checksum edited"] = new Damage("nb.jsonl", b => Utf8(System.Text.RegularExpressions.Regex.Replace(b, "\"checksum\":\"[0-9a-f]", "\"checksum\":\"x")), 0, "does not match the checksum"),
            ["header count not a number"] = new Damage("nb.jsonl", b => Utf8(b.Replace("\"objects\":3", "\"objects\":\"3\"")), 1, "'objects' must be a count"),
            ["header without its checksum"] = new Damage("nb.jsonl", b => Utf8(System.Text.RegularExpressions.Regex.Replace(b, ",\"checksum\":\"[0-9a-f]+\"", "")), 1, "both or neither"),
            ["a blank line before the header"] = new Damage("nb.jsonl", b => Utf8("\n" + b), 2, "holds a header, which only the file's first line may hold", "move the header to the very first line"),
            ["a header after an object"] = new Damage("nb.jsonl", b => Utf8(PlainLines + "{\"header\":{}}\n"), 4, "holds a header, which only the file's first line may hold", "Restore the file from a copy if it was made by joining files"),
            ["a header line that is also an object"] = new Damage("nb.jsonl", b => Utf8("{\"header\":{},\"table\":\"lport\",\"topic\":null,\"id\":\"x\",\"value\":{}}\n" + PlainLines), 1, "holds both a header and an object's members"),
            ["header not an object"] = new Damage("nb.jsonl", b => Utf8("{\"header\":3}\n" + PlainLines), 1, "header must be a JSON object"),
            ["a value edited"] = new Damage("nb.jsonl", b => Utf8(b.Replace("1450", "1500")), 0, "does not match the checksum"),
            ["invalid UTF-8 in a line"] = new Damage("nb.jsonl", b => Utf8(PlainLines).Concat(Utf8(Line("lport", null, "p9", "{\"name\": \"caf_\"}")).Select(x => x == (byte)'_' ? (byte)0xC3 : x)).ToArray(), 4, "not UTF-8"),
            ["invalid UTF-8 in a gzipped line"] = new Damage("nb.jsonl.gz", b => Gzip(Utf8(Line("lport", null, "p9", "{\"name\": \"_\"}")).Select(x => x == (byte)'_' ? (byte)0xFF : x).Concat(Utf8(PlainLines)).ToArray()), 1, "not UTF-8"),
            ["a key twice"] = new Damage("nb.jsonl", b => Utf8(PlainLines + Line("lswitch", "t1", "s1", "{\"id\": \"s1\"}")), 4, "lswitch/s1 (topic t1) is stored again, first on line 2"),
            ["table missing"] = new Damage("nb.jsonl", b => Utf8(PlainLines + "{\"topic\":null,\"id\":\"x\",\"value\":{}}\n"), 4, "'table' must be a non-empty string"),
            ["table empty"] = new Damage("nb.jsonl", b => Utf8(PlainLines + Line("", null, "x", "{}")), 4, "'table' must be a non-empty string"),
            ["table a number"] = new Damage("nb.jsonl", b => Utf8(PlainLines + "{\"table\":7,\"topic\":null,\"id\":\"x\",\"value\":{}}\n"), 4, "'table' must be a non-empty string"),
            ["id missing"] = new Damage("nb.jsonl", b => Utf8(PlainLines + "{\"table\":\"lport\",\"topic\":null,\"value\":{}}\n"), 4, "'id' must be a string"),
            ["id a number"] = new Damage("nb.jsonl", b => Utf8(PlainLines + "{\"table\":\"lport\",\"topic\":null,\"id\":5,\"value\":{}}\n"), 4, "'id' must be a string"),
            ["topic a number"] = new Damage("nb.jsonl", b => Utf8(PlainLines + "{\"table\":\"lport\",\"topic\":5,\"id\":\"x\",\"value\":{}}\n"), 4, "'topic' must be a string or null"),
            ["table half a surrogate pair"] = new Damage("nb.jsonl", b => Utf8(PlainLines + Line("lp\\ud800ort", null, "x", "{}")), 4, "'table' is not text"),
            ["topic half a surrogate pair"] = new Damage("nb.jsonl", b => Utf8(PlainLines + Line("lport", "t\\udc00", "x", "{}")), 4, "'topic' is not text"),
            ["value missing"] = new Damage("nb.jsonl", b => Utf8(PlainLines + "{\"table\":\"lport\",\"topic\":null,\"id\":\"x\"}\n"), 4, "'value' is missing"),
            ["a line that is an array"] = new Damage("nb.jsonl", b => Utf8(PlainLines + "[1, 2]\n"), 4, "must be a JSON object"),
            ["a line that is not JSON"] = new Damage("nb.jsonl", b => Utf8("port p1 is up\n" + PlainLines), 1, "not valid JSON"),
            ["text after a line's object"] = new Damage("nb.jsonl", b => Utf8(PlainLines.TrimEnd('\n') + " trailing\n"), 3, "not valid JSON"),
            ["a byte order mark inside the file"] = new Damage("nb.jsonl", b => Utf8(PlainLines).Concat(new byte[] { 0xEF, 0xBB, 0xBF }).Concat(Utf8(Line("lport", null, "x", "{}"))).ToArray(), 4, "not valid JSON"),
            ["header module_objects not a count"] = new Damage("nb.jsonl", b => Utf8(Counted("\"1\"", PlainLines)), 1, "'module_objects' must be a count"),
            ["header module_objects below zero"] = new Damage("nb.jsonl", b => Utf8(Counted("-1", PlainLines)), 1, "'module_objects' must be a count"),
            ["header object_bytes not a count"] = new Damage("nb.jsonl", b => Utf8("{\"header\":{\"module_objects\":0,\"object_bytes\":\"x\"}}\n" + PlainLines), 1, "'object_bytes' must be a count of the file's bytes"),
            ["an object counted as the module's"] = new Damage("nb.jsonl", b => Utf8(Counted("1", PlainLines)), 2, "but this object is of table 'lport'"),
            ["a module object after those counted"] = new Damage("nb.jsonl", b => Utf8(Counted("0", PlainLines + Line("schema_migration_log", null, "m1", "{}"))), 5, "is one of the module's own objects"),
            ["a count made smaller"] = new Damage("nb.jsonl", b => Utf8(Counted("1", Line("schema_migration_log", null, "m1", "{}") + Line("df_upgrade_run", null, "under-way", "{}") + PlainLines)), 3, "is one of the module's own objects"),
            ["fewer module objects than counted"] = new Damage("nb.jsonl", b => Utf8(Counted("2", Line("df_upgrade_run", null, "under-way", "{}"))), 1, "holds 1 objects, but its header's 'module_objects' says"),
            // System.Text.Json's own message quotes the rest of the line after a word it does not know.
            ["a secret after a misspelt word"] = new Damage("nb.jsonl", b => Utf8(PlainLines + Line("lport", null, "x", $"{{\"enabled\": tru, \"password\": \"{Secret}\"}}")), 4, "not valid JSON (at byte 62)"),
            ["a NUL byte in a line"] = new Damage("nb.jsonl", b => Utf8(PlainLines + Line("lport", null, "x", "{\"a\": 1}").Replace(" ", "\0")), 4, "not valid JSON"),
        };

        public static IEnumerable<object[]> DamagedFiles => Damages.Keys.Select(k => new object[] { k });

        [Theory]
        [MemberData(nameof(DamagedFiles))]
        public void A_damaged_database_file_is_refused_naming_the_file_and_line_and_is_left_as_it_was(string damage)
        {
            var d = Damages[damage];
            string path = Path.Combine(_dir, d.File);
            File.WriteAllBytes(path, d.Bytes(BackupText()));
            string before = Hash(path);
            using (var store = NbStoreFactory.Open(path))
            {
                var read = Assert.Throws<NbFileInvalidException>(() => NbSnapshot.Load(store));
                var write = Assert.Throws<NbFileInvalidException>(() => store.Write(new[] { new NbEntry(new NbKey("lport", null, "new"), Utf8("{\"id\": \"new\"}")) }));
                foreach (var e in new[] { read, write })
                {
                    Assert.Equal("NbFileInvalid", e.ErrorId);
                    Assert.Equal(DfErrorCategory.InvalidData, e.Category);
                    Assert.Contains(d.Line > 0 ? $"{path}, line {d.Line}:" : $"{path}:", e.Message);
                    Assert.Contains(d.Says, e.Message);
                    Assert.Equal(d.Line, e.Line);
                    if (d.Advises != null) Assert.Contains(d.Advises, e.RecommendedAction);
                    NoSecretIn(e);
                }
            }
            Assert.Equal(before, Hash(path));
            Assert.Equal(new[] { path }, Directory.GetFiles(_dir));
        }

        // The commit's record damaged by a misspelt word before a secret: System.Text.Json's own message, shown or
        // kept as the inner exception, would quote the rest of the value.
        [Fact]
        public void A_damaged_commit_record_is_refused_naming_no_secret()
        {
            string bad = $"{{\"state\": tru, \"password\": \"{Secret}\"}}";
            var e = Assert.Throws<NbStoreException>(() => CommitRecord.Parse(new NbEntry(new NbKey(CommitJournal.RecordTable, null, "in-progress"), Utf8(bad))));
            Assert.Contains("not valid JSON (at byte 13)", e.Message);
            NoSecretIn(e);
        }

        // A lock that does not read as one (not JSON, not an object, members of other types) is held by an unknown host for
        // good: a run is refused naming it, and no secret in it; Unlock -Force breaks it, and the next run takes the lock.
        [Theory]
        [InlineData("{\"pid\": tru, \"token\": \"%SECRET%\"}", "that is not valid JSON (at byte 11)")]
        [InlineData("[\"%SECRET%\"]", "that is not a JSON object")]
        [InlineData("{\"pid\": \"%SECRET%\", \"host\": 7}", "an unknown purpose (process 0 of an unknown user on an unknown host")]
        public void A_lock_that_does_not_read_as_one_is_refused_by_a_run_and_broken_with_force(string lockText, string says)
        {
            string path = Path.Combine(_dir, "nb.jsonl");
            File.WriteAllText(path, PlainLines);
            File.WriteAllText(path + ".lock", lockText.Replace("%SECRET%", Secret));
            using var store = NbStoreFactory.Open(path);
            var e = Assert.Throws<UpgradeLockedException>(() => UpgradeLock.Acquire(store, "a test").Dispose());
            Assert.Contains(says, e.Message);
            NoSecretIn(e);
            Assert.NotNull(UpgradeLock.Unlock(store, force: true));
            UpgradeLock.Acquire(store, "a test").Dispose();
            Assert.False(File.Exists(path + ".lock"));
        }

        // A line longer than any object a store holds (1 GiB; here, to be quick, 1 MiB) is refused before its buffer
        // grows past what an array may be, by a read and by a write, and the file is left as it was.
        [Fact]
        public void A_line_longer_than_any_object_is_refused_naming_it()
        {
            string path = Path.Combine(_dir, "nb.jsonl");
            File.WriteAllText(path, PlainLines + Line("lport", null, "big", $"{{\"pad\": \"{new string('x', 3 << 20)}\"}}") + PlainLines.Replace("\"p1\"", "\"p2\""));
            string before = Hash(path);
            using var store = new FileNbStore(path) { LongestLine = 1 << 20 };
            var read = Assert.Throws<NbFileInvalidException>(() => store.Read().ToList());
            var write = Assert.Throws<NbFileInvalidException>(() => store.Write(new[] { new NbEntry(new NbKey("lport", null, "new"), Utf8("{\"id\": \"new\"}")) }));
            foreach (var e in new[] { read, write })
            {
                Assert.Contains($"{path}, line 4: is 1,048,576 bytes long or longer", e.Message);
                Assert.Equal(4, e.Line);
                NoSecretIn(e);
            }
            Assert.Equal(before, Hash(path));
        }

        // A wrong count of the module's objects, met by a read of only them, as a run with nothing pending reads.
        [Theory]
        [InlineData("header module_objects not a count", true)]
        [InlineData("header module_objects below zero", true)]
        [InlineData("header object_bytes not a count", true)]
        [InlineData("an object counted as the module's", true)]
        [InlineData("a count made smaller", true)]  // the line after those counted is read too
        [InlineData("fewer module objects than counted", true)]
        [InlineData("a module object after those counted", false)]  // past what it reads: every other read and every write refuse it (above)
        public void A_wrong_count_of_the_modules_objects_is_refused_by_a_read_of_them_that_meets_it(string damage, bool met)
        {
            var d = Damages[damage];
            string path = Path.Combine(_dir, d.File);
            File.WriteAllBytes(path, d.Bytes(BackupText()));
            string before = Hash(path);
            using (var store = NbStoreFactory.Open(path))
            {
                if (!met) Assert.Empty(MigrationLog.Read(store));
                else
                {
                    var e = Assert.Throws<NbFileInvalidException>(() => MigrationLog.Read(store));
                    Assert.Equal(d.Line, e.Line);
                    Assert.Contains(d.Says, e.Message);
                    Assert.Contains("'module_objects'", e.RecommendedAction);
                }
            }
            Assert.Equal(before, Hash(path));
        }

        [Theory]
        [MemberData(nameof(DamagedFiles))]
        public void A_damaged_backup_is_refused_and_the_database_is_left_as_it_was(string damage)
        {
            var d = Damages[damage];
            string path = Path.Combine(_dir, "backup-" + d.File);
            File.WriteAllBytes(path, d.Bytes(BackupText()));
            string before = Hash(path);
            string uri = Safe.NewRedis(Safe.Ports(20));
            var dump = Safe.Dump(uri);
            using (var store = NbStoreFactory.Open(uri))
            {
                var e = Assert.Throws<BackupInvalidException>(() => NbRestore.Plan(store, path, force: true));
                Assert.Contains(path, e.Message);
                NoSecretIn(e);
            }
            Assert.Equal(dump, Safe.Dump(uri));
            Assert.Equal(before, Hash(path));
        }

        // What Windows PowerShell's Out-File and other editors leave in a file: read as the same objects.
        public static IEnumerable<object[]> TolerableFiles => new[]
        {
            new object[] { "a byte order mark at the start", "nb.jsonl" },
            new object[] { "CRLF line ends", "nb.jsonl" },
            new object[] { "blank lines", "nb.jsonl" },
            new object[] { "no newline at the end", "nb.jsonl" },
            new object[] { "a byte order mark and CRLF, gzipped", "nb.jsonl.gz" },
        };

        // A read keeps one string of each table and topic name, whether a line escapes it or not.
        [Fact]
        public void Table_and_topic_names_read_as_their_text_however_a_line_spells_them()
        {
            string path = Path.Combine(_dir, "names.jsonl");
            File.WriteAllText(path, Line("lport", "t1", "p1", "{}") + Line("l\\u0070ort", "t\\u0031", "p2", "{}") +
                Line("lport", "caf\u00e9", "p3", "{}") + Line("lport", "caf\\u00e9", "p4", "{}") + Line("lport", "caf\u00e9", "p5", "{}"), new UTF8Encoding(false));
            using (var store = NbStoreFactory.Open(path))
                Assert.Equal(new[] { new NbKey("lport", "t1", "p1"), new NbKey("lport", "t1", "p2"), new NbKey("lport", "caf\u00e9", "p3"), new NbKey("lport", "caf\u00e9", "p4"), new NbKey("lport", "caf\u00e9", "p5") },
                    store.Read().Select(e => e.Key));
        }

        [Theory]
        [MemberData(nameof(TolerableFiles))]
        public void A_file_as_editors_write_it_reads_as_the_same_objects(string quirk, string name)
        {
            string text = BackupText();
            int afterHeader = text.IndexOf('\n') + 1;
            string edited = quirk switch
            {
                "a byte order mark at the start" => "\uFEFF" + text,
                "CRLF line ends" => text.Replace("\n", "\r\n"),
                "blank lines" => text.Substring(0, afterHeader) + "\n" + text.Substring(afterHeader).Replace("\n", "\n\n  \r\n"),
                "no newline at the end" => text.TrimEnd('\n'),
                _ => "\uFEFF" + text.Replace("\n", "\r\n"),
            };
            string path = Path.Combine(_dir, name);
            var bytes = Utf8(edited);
            File.WriteAllBytes(path, name.EndsWith(".gz") ? Gzip(bytes) : bytes);
            string before = Hash(path);
            using (var store = NbStoreFactory.Open(path))
            {
                var read = store.Read().ToList();
                Assert.Equal(Objects.Select(e => e.Key).OrderBy(k => k.ToString()), read.Select(e => e.Key).OrderBy(k => k.ToString()));
                foreach (var e in read)
                    Assert.Equal(Objects.Single(o => o.Key.Equals(e.Key)).Value.ToArray(), e.Value.ToArray());
            }
            Assert.Equal(before, Hash(path));
        }

        // A run's backup is read back by its lines' count and SHA-256 only (its objects were checked
        // as they were read): what the disk can do to the file between the write and the read is still found.
        [Theory]
        [InlineData("a byte changed", "run.jsonl", "their SHA-256 is not the header's")]
        [InlineData("a line gone", "run.jsonl", "it holds 2 object lines, not the 3 written")]
        [InlineData("a line more", "run.jsonl", "it holds 4 object lines, not the 3 written")]
        [InlineData("a line cut short", "run.jsonl", "their SHA-256 is not the header's")]
        [InlineData("the end of the gzip cut off", "run.jsonl.gz", "gzip file")]  // cut short, or not a whole one
        public void A_run_backup_read_back_by_count_and_checksum_still_finds_what_the_disk_changed(string damage, string file, string says)
        {
            string path = Path.Combine(_dir, file);
            var info = NbBackup.WriteRunBackup(Objects, $"redis://admin:{Secret}@127.0.0.1:1/3", path);
            NbBackup.LinesReadBack(info);  // as written, it reads back
            if (file.EndsWith(".gz"))
                File.WriteAllBytes(path, File.ReadAllBytes(path)[..^10]);
            else
            {
                // The header, then lport (whose value holds the secret), lswitch and unique_key, in key order.
                var lines = File.ReadAllLines(path).ToList();
                switch (damage)
                {
                    case "a byte changed": lines[1] = lines[1].Replace("hostile-", "hostile_"); break;
                    case "a line gone": lines.RemoveAt(3); break;
                    case "a line more": lines.Add(lines[3].Replace("17", "18")); break;
                    case "a line cut short": lines[1] = lines[1][..^10]; break;
                }
                File.WriteAllText(path, string.Join("\n", lines) + "\n");
            }
            var e = Assert.Throws<BackupInvalidException>(() => NbBackup.LinesReadBack(info));
            Assert.Contains(path, e.Message);
            Assert.Contains(says, e.Message);
            NoSecretIn(e);
        }

        [Fact]
        public void A_run_backup_that_does_not_read_back_is_removed_and_refused()
        {
            // Objects handed over unchecked, a value with a line break among them: the backup's
            // lines are one more than its objects, and the read-back is what stops it.
            string path = Path.Combine(_dir, "run.jsonl.gz");
            var objects = Objects.Append(new NbEntry(new NbKey("lport", null, "bad"), Utf8("{\"id\":\n\"bad\"}"))).ToList();
            var e = Assert.Throws<BackupInvalidException>(() => NbBackup.WriteRunBackup(objects, $"redis://admin:{Secret}@127.0.0.1:1/3", path));
            Assert.Equal($"{path}: the backup just written does not read back, so it was removed: it holds 5 object lines, not the 4 written. Nothing was written to the database.", e.Message);
            NoSecretIn(e);
            Assert.Empty(Directory.GetFiles(_dir));
        }

        [Fact]
        public void A_write_to_a_file_with_a_header_keeps_its_count_and_checksum_right()
        {
            string path = Path.Combine(_dir, "copy.jsonl.gz");
            NbBackup.Write(Objects, "redis://127.0.0.1:1/3", path);
            using (var store = NbStoreFactory.Open(path))
                store.Write(new[] { NbEntry.Delete(new NbKey("unique_key", null, "lport")), new NbEntry(new NbKey("lport", null, "p2"), Utf8("{\"id\": \"p2\"}")) });
            var (info, entries) = NbBackup.Load(path);
            Assert.Equal(3, info.Objects);
            Assert.Contains(entries, e => e.Key.Id == "p2");
        }

        // Backup paths (-BackupPath, Backup-DfNbDatabase -Path) that must be refused before anything is read.
        public static IEnumerable<object[]> BadBackupPaths => new[]
        {
            new object[] { "the database file itself" },
            new object[] { "the database file, spelled another way" },
            new object[] { "the database's lock file" },
            new object[] { "a .txt file that exists" },
            new object[] { "a .txt file of a Redis database" },
            new object[] { "a name without an extension" },
            new object[] { "a pipe named .jsonl.gz" },
        };

        [Theory]
        [MemberData(nameof(BadBackupPaths))]
        public void A_bad_backup_path_is_refused_before_anything_is_read(string kind)
        {
            string db = Path.Combine(_dir, "nb.jsonl");
            File.WriteAllText(db, PlainLines);
            string uri = kind.Contains("Redis") ? Safe.NewRedis(Objects) : db;
            string path = kind switch
            {
                "the database file itself" => db,
                "the database file, spelled another way" => Path.Combine(_dir, "sub", "..", "nb.jsonl"),
                "the database's lock file" => db + ".lock",
                "a .txt file that exists" => Path.Combine(_dir, "notes.txt"),
                "a .txt file of a Redis database" => Path.Combine(_dir, "backup.txt"),
                "a name without an extension" => Path.Combine(_dir, "backup"),
                _ => Path.Combine(_dir, "pipe.jsonl.gz"),
            };
            if (kind == "a .txt file that exists") File.WriteAllText(path, "notes");
            if (kind.Contains("pipe")) Process.Start("mkfifo", path).WaitForExit();
            var files = Directory.GetFiles(_dir).ToDictionary(f => f, f => kind.Contains("pipe") && f == path ? "pipe" : Hash(f));
            var dump = Safe.Dump(uri);
            using (var store = NbStoreFactory.Open(uri))
            {
                var e = Assert.Throws<BackupPathInvalidException>(() => NbBackup.ResolvePath(path, store));
                Assert.Equal("BackupPathInvalid", e.ErrorId);
                Assert.Contains(Path.GetFullPath(path), e.Message);
                Assert.Equal(Path.GetFullPath(path), e.Target);
                NoSecretIn(e);
                // Backup-DfNbDatabase -Path and a run's backup both go through ResolvePath; the writer itself refuses a wrong name too.
                if (!FileNbStore.IsFileStorePath(path))
                    Assert.Equal("BackupPathInvalid", Assert.Throws<BackupPathInvalidException>(() => NbBackup.Write(store, path)).ErrorId);
            }
            Assert.Equal(files, Directory.GetFiles(_dir).ToDictionary(f => f, f => kind.Contains("pipe") && f == path ? "pipe" : Hash(f)));
            Assert.Equal(dump, Safe.Dump(uri));
        }

        [Fact]
        public void A_backup_path_that_is_a_folder_gets_a_timestamped_file_inside_it()
        {
            string db = Path.Combine(_dir, "nb.jsonl");
            File.WriteAllText(db, PlainLines);
            string folder = Path.Combine(_dir, "backups");
            Directory.CreateDirectory(folder);
            using (var store = NbStoreFactory.Open(db))
            {
                string path = NbBackup.ResolvePath(folder, store);
                Assert.Equal(folder, Path.GetDirectoryName(path));
                Assert.Matches(@"^nb-\d{8}T\d{6}\.\d{3}Z\.jsonl\.gz$", Path.GetFileName(path));
                Assert.Equal(3, NbBackup.Write(store, path).Objects);
            }
        }

        public static IEnumerable<object[]> NotRegularFiles => new[] { new object[] { "a pipe" }, new object[] { "a folder" } };

        [Theory]
        [MemberData(nameof(NotRegularFiles))]
        public void A_database_path_that_is_not_a_regular_file_is_refused_without_waiting(string kind)
        {
            string path = Path.Combine(_dir, "x.jsonl");
            if (kind == "a pipe") Process.Start("mkfifo", path).WaitForExit();
            else Directory.CreateDirectory(path);
            var open = Task.Run(() => Assert.Throws<NbFileInvalidException>(() => NbStoreFactory.Open(path).Read().ToList()));
            Assert.True(open.Wait(TimeSpan.FromSeconds(20)), "opening it waited");
            var e = open.Result;
            Assert.Equal("NbFileInvalid", e.ErrorId);
            Assert.Contains(path, e.Message);
            Assert.Contains(kind == "a pipe" ? "not a regular file" : "is a folder", e.Message);
            NoSecretIn(e);
        }

        public static IEnumerable<object[]> NotBackups => new[]
        {
            new object[] { "a folder", "is a folder, not an NB database or backup file" },
            new object[] { "a .txt file", "this is not a backup: a backup's name ends in .jsonl.gz" },
            new object[] { "a pipe named .jsonl.gz", "not a regular file" },
        };

        [Theory]
        [MemberData(nameof(NotBackups))]
        public void A_restore_from_what_is_not_a_backup_file_is_refused_naming_it(string kind, string says)
        {
            string path = Path.Combine(_dir, kind == "a .txt file" ? "backup.txt" : "backup.jsonl.gz");
            if (kind == "a folder") Directory.CreateDirectory(path);
            else if (kind == "a .txt file") File.WriteAllText(path, BackupText());
            else Process.Start("mkfifo", path).WaitForExit();
            string uri = Safe.NewRedis(Safe.Ports(20));
            var dump = Safe.Dump(uri);
            using (var store = NbStoreFactory.Open(uri))
            {
                // A folder is refused as wherever a file is read; what is not a backup, as a backup.
                var plan = Task.Run(() => kind == "a folder"
                    ? (Exception)Assert.Throws<NbFileInvalidException>(() => NbRestore.Plan(store, path))
                    : Assert.Throws<BackupInvalidException>(() => NbRestore.Plan(store, path)));
                Assert.True(plan.Wait(TimeSpan.FromSeconds(20)), "reading it waited");
                var e = plan.Result;
                Assert.Contains(path, e.Message);
                Assert.Contains(says, e.Message);
                NoSecretIn(e);
            }
            Assert.Equal(dump, Safe.Dump(uri));
        }

        // Backups restored onto a database they were not taken from.
        public static IEnumerable<object[]> ForeignBackups => new[]
        {
            new object[] { "another Redis database" },
            new object[] { "a file database" },
            new object[] { "an edited source" },
            new object[] { "an edited source with a password" },
            new object[] { "an edited source with # and / in its password" },
            new object[] { "no source" },
        };

        [Theory]
        [MemberData(nameof(ForeignBackups))]
        public void A_backup_from_another_database_is_refused_unless_forced(string kind)
        {
            string target = Safe.NewRedis(Safe.Ports(30));
            string path = Path.Combine(_dir, "b.jsonl.gz");
            string source;
            if (kind == "another Redis database")
            {
                source = Safe.NewRedis(Objects);
                using (var store = NbStoreFactory.Open(source)) NbBackup.Write(store, path);
            }
            else
            {
                source = kind switch
                {
                    "a file database" => Path.Combine(_dir, "nb.jsonl"),
                    "an edited source" => target.Replace("/", "/x"),
                    "an edited source with a password" => $"redis://admin:{Secret}@127.0.0.1:1/3",
                    "an edited source with # and / in its password" => $"redis://admin:p#{Secret}/x@127.0.0.1:1/3",
                    _ => null,
                };
                // The header is outside the checksum: an edited one still loads.
                File.WriteAllBytes(path, Gzip(Utf8(source == null
                    ? System.Text.RegularExpressions.Regex.Replace(BackupText(), "\"source\":\"[^\"]*\",", "")
                    : BackupText(source))));
            }
            string before = Hash(path);
            var dump = Safe.Dump(target);
            using (var store = NbStoreFactory.Open(target))
            {
                var e = Assert.Throws<BackupFromOtherDatabaseException>(() => NbRestore.Plan(store, path));
                Assert.Equal("BackupFromOtherDatabase", e.ErrorId);
                Assert.Contains(path, e.Message);
                Assert.Contains(store.Location, e.Message);
                Assert.Contains(source == null ? "an unnamed database" : kind.Contains("password") ? "redis://127.0.0.1:1/3" : source, e.Message);
                NoSecretIn(e);
                Assert.Equal(dump, Safe.Dump(target));
                Assert.Equal(before, Hash(path));
                // -Force restores it.
                NbRestore.Apply(store, NbRestore.Plan(store, path, force: true));
            }
            Assert.Equal(3, Safe.Dump(target).Count);
        }

        [Fact]
        public void A_backup_is_restored_onto_its_database_however_its_header_spells_it()
        {
            string target = Safe.NewRedis(Safe.Ports(30));
            int slash = target.LastIndexOf('/');
            string endpoint = target.Substring("redis://".Length, slash - "redis://".Length), db = target.Substring(slash + 1);
            foreach (string source in new[] { $"REDIS://{endpoint}/{db}/", $"redis://:***@{endpoint}/{db}", $"redis://admin:p#/x@{endpoint}/{db}" })
            {
                string path = Path.Combine(_dir, Guid.NewGuid().ToString("N") + ".jsonl.gz");
                File.WriteAllBytes(path, Gzip(Utf8(BackupText(source))));
                using (var store = NbStoreFactory.Open(target))
                    NbRestore.Apply(store, NbRestore.Plan(store, path));
                Assert.Equal(3, Safe.Dump(target).Count);
            }
        }

        // Stored values a backup could not give back, on each store that holds raw values.
        static readonly Dictionary<string, (NbKey Key, byte[] Value, string Says)> BadValues = new Dictionary<string, (NbKey, byte[], string)>
        {
            ["text that is not JSON"] = (new NbKey("lport", "t1", "bad"), Utf8("port bad is up"), "is not one valid JSON value"),
            ["a byte order mark"] = (new NbKey("lport", "t1", "bad"), new byte[] { 0xEF, 0xBB, 0xBF }.Concat(Utf8("{\"id\": \"bad\"}")).ToArray(), "byte order mark"),
            ["text after the JSON"] = (new NbKey("lport", "t1", "bad"), Utf8("{\"id\": \"bad\"} {}"), "JSON value"),
            ["invalid UTF-8"] = (new NbKey("lport", "t1", "bad"), Utf8("{\"id\": \"bad\", \"name\": \"_\"}").Select(x => x == (byte)'_' ? (byte)0xC0 : x).ToArray(), "is not UTF-8"),
            ["nesting one level too deep"] = (new NbKey("lport", null, "bad"), Utf8(Nested(65)), "nested 64 deep at most"),
            ["an empty value"] = (new NbKey("lport", "t1", "bad"), Array.Empty<byte>(), "is empty"),
            ["a pretty-printed value"] = (new NbKey("lport", "t1", "bad"), Utf8("{\n  \"id\": \"bad\"\n}"), "holds a line break (at byte 1)"),
            ["a space before the value"] = (new NbKey("lport", "t1", "bad"), Utf8(" {\"id\": \"bad\"}"), "spacing before or after its JSON value"),
            ["a counter with a space after it"] = (new NbKey("unique_key", null, "lport"), Utf8("17 "), "spacing before or after its JSON value"),
            ["a counter that is not UTF-8"] = (new NbKey("unique_key", null, "lport"), new byte[] { (byte)'1', 0xFE }, "is not UTF-8"),
            ["an empty id"] = (new NbKey("lport", null, ""), Utf8("{\"id\": \"\"}"), "empty id"),
        };

        public static IEnumerable<object[]> BadStoredValues =>
            BadValues.Keys.Select(k => new object[] { "redis", k }).Concat(BadValues.Keys.Select(k => new object[] { "etcd", k }));

        // What a file line can hold of those: refused with the same id as on the other stores, and
        // so is a backup holding it.
        [Theory]
        [InlineData("nesting one level too deep")]
        [InlineData("an empty id")]
        public void A_stored_value_in_a_file_is_refused_as_on_the_other_stores(string bad)
        {
            var (key, value, says) = BadValues[bad];
            string db = Path.Combine(_dir, "nb.jsonl");
            File.WriteAllBytes(db, Utf8(PlainLines + Line(key.Table, key.Topic, key.Id, System.Text.Encoding.UTF8.GetString(value))));
            string before = Hash(db);
            using (var store = NbStoreFactory.Open(db))
            {
                var errors = new[]
                {
                    Assert.Throws<NbValueInvalidException>(() => NbBackup.Write(store, Path.Combine(_dir, "b.jsonl.gz"))),
                    Assert.Throws<NbValueInvalidException>(() => NbSnapshot.Load(store)),
                };
                foreach (var e in errors)
                {
                    Assert.Equal("NbValueInvalid", e.ErrorId);
                    Assert.Equal(key, e.Key);
                    Assert.Contains(says, e.Message);
                    Assert.Contains(db, e.Message);
                }
            }
            Assert.Equal(before, Hash(db));
            Assert.False(File.Exists(Path.Combine(_dir, "b.jsonl.gz")));

            // A backup holding it (its header's count and checksum made to match) is not restored.
            string backup = Path.Combine(_dir, "backup.jsonl");
            string line = Line(key.Table, key.Topic, key.Id, System.Text.Encoding.UTF8.GetString(value));
            string header = BackupText().Split('\n')[0];
            header = System.Text.RegularExpressions.Regex.Replace(header, "\"objects\":\\d+", "\"objects\":1");
            header = System.Text.RegularExpressions.Regex.Replace(header, "\"checksum\":\"[0-9a-f]+\"", $"\"checksum\":\"{ContentHash.Of(Utf8(line))}\"");
            File.WriteAllText(backup, header + "\n" + line);
            using (var target = NbStoreFactory.Open(Safe.NewRedis(Safe.Ports(20))))
            {
                var e = Assert.Throws<BackupInvalidException>(() => NbRestore.Plan(target, backup, force: true));
                Assert.Contains(says, e.Message);
            }
        }

        [Theory]
        [MemberData(nameof(BadStoredValues))]
        public void A_stored_value_a_backup_could_not_give_back_is_refused_when_read_naming_its_key(string kind, string bad)
        {
            var (key, value, says) = BadValues[bad];
            // etcd holds the topic in the value: none there.
            if (kind == "etcd") key = new NbKey(key.Table, null, key.Id);
            var content = Objects.Where(o => !o.Key.Equals(key)).Append(new NbEntry(key, value)).ToList();
            using (var db = kind == "redis" ? RedisWithPassword(content) : EtcdWith(content))
            {
                string path = Path.Combine(_dir, "b.jsonl.gz");
                var before = Raw(db.Uri);
                using (var store = NbStoreFactory.Open(db.Uri))
                {
                    var errors = new[]
                    {
                        Assert.Throws<NbValueInvalidException>(() => NbBackup.Write(store, path)),
                        Assert.Throws<NbValueInvalidException>(() => NbSnapshot.Load(store)),
                    };
                    foreach (var e in errors)
                    {
                        Assert.Equal("NbValueInvalid", e.ErrorId);
                        Assert.Equal(key, e.Key);
                        Assert.Contains(key.ToString(), e.Message);
                        Assert.Contains(says, e.Message);
                        Assert.Contains(store.Location, e.Message);
                        NoSecretIn(e);
                    }
                }
                Assert.False(File.Exists(path));
                Assert.Equal(before, Raw(db.Uri));
            }
        }

        [Fact]
        public void A_backup_that_does_not_read_back_is_removed_and_refused()
        {
            // Objects handed over unchecked (not read through a store): the read-back is what stops them.
            string path = Path.Combine(_dir, "b.jsonl.gz");
            var objects = Objects.Append(new NbEntry(new NbKey("lport", null, "bad"), Utf8("{\"id\": \"bad\"} trailing"))).ToList();
            var e = Assert.Throws<BackupInvalidException>(() => NbBackup.Write(objects, "redis://127.0.0.1:1/3", path));
            Assert.Contains("does not read back", e.Message);
            Assert.Matches(System.Text.RegularExpressions.Regex.Escape(path) + @", line \d+: not valid JSON", e.Message);
            NoSecretIn(e);
            Assert.Empty(Directory.GetFiles(_dir));
        }

        [Fact]
        public void A_value_nested_to_the_limit_is_backed_up_and_restored_byte_for_byte()
        {
            var deep = new NbEntry(new NbKey("lport", null, "deep"), Utf8(Nested(64)));
            string uri = Safe.NewRedis(Objects.Append(deep).ToList());
            var before = Safe.Dump(uri);
            string path = Path.Combine(_dir, "b.jsonl.gz");
            using (var store = NbStoreFactory.Open(uri))
            {
                NbBackup.Write(store, path);
                store.Write(new[] { NbEntry.Delete(deep.Key) });
                NbRestore.Apply(store, NbRestore.Plan(store, path));
            }
            Assert.Equal(before, Safe.Dump(uri));
        }

        sealed class TestDb : IDisposable
        {
            public string Uri;
            public Action Cleanup;
            public void Dispose() => Cleanup?.Invoke();
        }

        // Every key with its raw bytes, unchecked, the module's own tables included.
        static SortedDictionary<string, string> Raw(string uri)
        {
            using (var store = NbStoreFactory.Open(uri))
                return new SortedDictionary<string, string>(store.Read().ToDictionary(e => e.Key.ToString(), e => Convert.ToBase64String(e.Value.Span)), StringComparer.Ordinal);
        }

        static TestDb RedisWithPassword(IReadOnlyCollection<NbEntry> content)
        {
            string uri = TestRedis.NewDatabase();
            string user = "hostile-file-" + Guid.NewGuid().ToString("N");
            using (var mux = TestRedis.Connect())
                mux.GetServer(TestRedis.Endpoint).Execute("ACL", "SETUSER", user, "on", ">" + Secret, "~*", "+@all");
            string withPassword = uri.Replace("redis://", $"redis://{user}:{Secret}@");
            using (var store = NbStoreFactory.Open(withPassword)) store.Write(content);
            return new TestDb
            {
                Uri = withPassword,
                Cleanup = () => { using (var mux = TestRedis.Connect()) mux.GetServer(TestRedis.Endpoint).Execute("ACL", "DELUSER", user); },
            };
        }

        static TestDb EtcdWith(IReadOnlyCollection<NbEntry> content)
        {
            string uri = TestEtcd.NewDatabase();
            using (var store = NbStoreFactory.Open(uri)) store.Write(content);
            return new TestDb { Uri = uri, Cleanup = () => TestEtcd.NewDatabase() };
        }
    }
}
