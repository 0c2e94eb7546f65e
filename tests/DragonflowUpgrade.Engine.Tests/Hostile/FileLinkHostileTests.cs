using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Security.Cryptography;
using System.Text;
using DragonflowUpgrade.Engine.Safety;
using DragonflowUpgrade.Engine.Store;
using Xunit;

namespace DragonflowUpgrade.Engine.Tests.Hostile
{
    /// <summary>
    /// Hostile file layouts and lines for the file store and backups: a database reached through a
    /// symbolic link, a backup named over an existing file, a key that is not text, a line that
    /// names a member twice. Each is handled without touching any other file.
    /// </summary>
    public class FileLinkHostileTests : IDisposable
    {
        // Its real path: the temporary folder may itself be reached through a link.
        readonly string _dir = FileNbStore.RealPath(Directory.CreateTempSubdirectory("df-hostile-link-").FullName);

        public void Dispose() => Directory.Delete(_dir, true);

        static byte[] Utf8(string s) => Encoding.UTF8.GetBytes(s);

        const string Lines =
            "{\"table\":\"lswitch\",\"topic\":\"t1\",\"id\":\"s1\",\"value\":{\"id\": \"s1\", \"topic\": \"t1\"}}\n" +
            "{\"table\":\"unique_key\",\"topic\":null,\"id\":\"lport\",\"value\":17}\n";

        static string Hash(string path) => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(path)));

        Dictionary<string, string> Files() =>
            Directory.GetFiles(_dir, "*", SearchOption.AllDirectories).ToDictionary(f => f, f => new FileInfo(f).LinkTarget ?? Hash(f));

        // real/nb.jsonl, and nb.jsonl a link to it.
        (string Real, string Link) Linked()
        {
            string real = Path.Combine(_dir, "real", "nb.jsonl");
            Directory.CreateDirectory(Path.GetDirectoryName(real));
            File.WriteAllText(real, Lines);
            string link = Path.Combine(_dir, "nb.jsonl");
            File.CreateSymbolicLink(link, real);
            return (real, link);
        }

        [Fact]
        public void A_write_through_a_link_writes_the_file_it_names_and_keeps_the_link()
        {
            var (real, link) = Linked();
            using (var store = new FileNbStore(link))
            {
                Assert.Equal(real, store.Location);
                store.Write(new[] { new NbEntry(new NbKey("lport", "t1", "p1"), Utf8("{\"id\": \"p1\"}")) });
            }
            Assert.Equal(real, new FileInfo(link).LinkTarget);
            Assert.Contains("\"p1\"", File.ReadAllText(real));
            // The lock beside the database is the same file however it is named.
            using (var viaLink = new FileNbStore(link))
            using (var viaReal = new FileNbStore(real))
                Assert.Equal(viaReal.Path, viaLink.Path);
        }

        [Fact]
        public void A_folder_link_in_the_path_is_resolved_too()
        {
            var (real, _) = Linked();
            string folderLink = Path.Combine(_dir, "L");
            Directory.CreateSymbolicLink(folderLink, Path.GetDirectoryName(real));
            using var store = new FileNbStore(Path.Combine(folderLink, "nb.jsonl"));
            Assert.Equal(real, store.Location);
        }

        [Theory]
        [InlineData("database through a link, backup the real file")]
        [InlineData("database the real file, backup through a link")]
        public void A_backup_path_that_is_the_database_through_a_link_is_refused(string kind)
        {
            var (real, link) = Linked();
            var (db, backup) = kind.StartsWith("database through") ? (link, real) : (real, link);
            var before = Files();
            using (var store = new FileNbStore(db))
            {
                Assert.Equal("BackupPathInvalid", Assert.Throws<BackupPathInvalidException>(() => NbBackup.ResolvePath(backup, store, overwrite: true)).ErrorId);
                Assert.Equal("BackupPathInvalid", Assert.Throws<BackupPathInvalidException>(() => NbBackup.Write(store.Read().ToList(), store.Location, backup, overwrite: true)).ErrorId);
            }
            Assert.Equal(before, Files());
        }

        [Theory]
        [InlineData("another database")]
        [InlineData("an older backup")]
        [InlineData("the journal of an older backup")]
        public void A_backup_never_replaces_an_existing_file_unless_told_to(string kind)
        {
            string db = Path.Combine(_dir, "db4.jsonl");
            File.WriteAllText(db, Lines);
            string target = Path.Combine(_dir, kind == "another database" ? "db1.jsonl" : "keep.jsonl.gz");
            using (var store = new FileNbStore(db))
            {
                if (kind == "the journal of an older backup") File.WriteAllText(CommitJournal.JournalPathFor(target), "journal");
                else NbBackup.Write(store.Read().ToList(), "elsewhere", target);
                var before = Files();
                var e = Assert.Throws<BackupPathInvalidException>(() => NbBackup.ResolvePath(target, store));
                Assert.Equal("BackupPathInvalid", e.ErrorId);
                Assert.Contains(target, e.Message);
                Assert.Equal("BackupPathInvalid", Assert.Throws<BackupPathInvalidException>(() => NbBackup.Write(store, target)).ErrorId);
                Assert.Equal(before, Files());
                if (kind == "the journal of an older backup") return;
                // Told to (Backup-DfNbDatabase -Force), it does.
                Assert.Equal(target, NbBackup.ResolvePath(target, store, overwrite: true));
                Assert.Equal("db4.jsonl", Path.GetFileName(NbBackup.Write(store, target, overwrite: true).Source));
            }
        }

        [Fact]
        public void The_default_backup_path_never_names_an_existing_file()
        {
            string db = Path.Combine(_dir, "nb.jsonl");
            File.WriteAllText(db, Lines);
            string folder = Path.Combine(_dir, "df-backups");
            Directory.CreateDirectory(folder);
            // Every timestamped name of the next three seconds is taken, as by runs in the same milliseconds.
            var now = DateTimeOffset.UtcNow;
            for (int ms = 0; ms < 3000; ms++)
                File.WriteAllText(Path.Combine(folder, $"nb-{now.AddMilliseconds(ms):yyyyMMdd'T'HHmmss.fff'Z'}.jsonl.gz"), "taken");
            using var store = new FileNbStore(db);
            var taken = new HashSet<string>();
            for (int i = 0; i < 4; i++)
            {
                string path = i % 2 == 0 ? NbBackup.ResolvePath(null, store) : NbBackup.ResolvePath(folder + "/", store);
                Assert.False(File.Exists(path), path);
                Assert.True(taken.Add(path));
                NbBackup.Write(store, path);
            }
        }

        [Theory]
        [InlineData("an id that is half a surrogate pair", "{\"table\":\"chassis\",\"topic\":null,\"id\":\"\\ud800\",\"value\":{\"id\": \"c1\"}}", "'id'")]
        [InlineData("a table that is half a surrogate pair", "{\"table\":\"\\udc00x\",\"topic\":null,\"id\":\"c1\",\"value\":{\"id\": \"c1\"}}", "'table'")]
        [InlineData("a topic that is half a surrogate pair", "{\"table\":\"chassis\",\"topic\":\"\\ud800\",\"id\":\"c1\",\"value\":{\"id\": \"c1\"}}", "'topic'")]
        [InlineData("table twice", "{\"table\":\"chassis\",\"table\":\"lport\",\"topic\":null,\"id\":\"c1\",\"value\":{\"id\": \"c1\"}}", "'table' appears twice")]
        [InlineData("value twice", "{\"table\":\"chassis\",\"topic\":null,\"id\":\"c1\",\"value\":{\"id\": \"c1\"},\"value\":1}", "'value' appears twice")]
        [InlineData("id twice, once escaped", "{\"table\":\"chassis\",\"topic\":null,\"id\":\"c1\",\"\\u0069d\":\"c2\",\"value\":{\"id\": \"c1\"}}", "appears twice")]
        public void A_line_whose_key_is_not_text_or_that_names_a_member_twice_is_refused_naming_the_line(string kind, string line, string says)
        {
            string db = Path.Combine(_dir, "nb.jsonl");
            File.WriteAllText(db, Lines + line + "\n");
            string before = Hash(db);
            using (var store = new FileNbStore(db))
            {
                var e = Assert.Throws<NbFileInvalidException>(() => store.Read().ToList());
                Assert.Equal("NbFileInvalid", e.ErrorId);
                Assert.Equal(3, e.Line);
                Assert.Contains(db + ", line 3", e.Message);
                Assert.Contains(says, e.Message);
                Assert.Throws<NbFileInvalidException>(() => store.Write(new[] { new NbEntry(new NbKey("lport", "t1", "p1"), Utf8("1")) }));
            }
            Assert.Equal(before, Hash(db));
            _ = kind;
        }
    }
}
