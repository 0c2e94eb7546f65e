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
        readonly string _dir = Directory.CreateTempSubdirectory("df-hostile-link-").FullName;

        public void Dispose() => Directory.Delete(_dir, true);

        static byte[] Utf8(string s) => Encoding.UTF8.GetBytes(s);

        const string Lines =
            "{\"table\":\"lswitch\",\"topic\":\"t1\",\"id\":\"s1\",\"value\":{\"id\": \"s1\", \"topic\": \"t1\"}}\n" +
            "{\"table\":\"unique_key\",\"topic\":null,\"id\":\"lport\",\"value\":17}\n";

        static string Hash(string path) => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(path)));

        Dictionary<string, string> Files() =>
            Directory.GetFiles(_dir, "*", SearchOption.AllDirectories).ToDictionary(f => f, f => new FileInfo(f).LinkTarget ?? Hash(f));

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
