using System;
using System.Diagnostics;
using System.IO;
using System.Security.Cryptography;
using System.Text;
using Xunit;

namespace DragonflowUpgrade.Remote.Tests
{
    public sealed class KnownHostsTests : IDisposable
    {
        readonly string _dir = Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), "df-known-hosts-" + Guid.NewGuid().ToString("N"))).FullName;

        public void Dispose() => Directory.Delete(_dir, true);

        static byte[] Key(string type, byte seed)
        {
            var blob = new byte[4 + type.Length + 4 + 32];
            blob[3] = (byte)type.Length;
            Encoding.ASCII.GetBytes(type).CopyTo(blob, 4);
            blob[4 + type.Length + 3] = 32;
            for (int i = 0; i < 32; i++) blob[blob.Length - 32 + i] = (byte)(seed + i);
            return blob;
        }

        string File(params string[] lines)
        {
            string path = Path.Combine(_dir, "known_hosts");
            System.IO.File.WriteAllLines(path, lines);
            return path;
        }

        static string Line(string hosts, byte[] key) => $"{hosts} {KnownHosts.KeyType(key)} {Convert.ToBase64String(key)}";

        [Fact]
        public void A_listed_key_is_known_another_key_of_its_type_is_changed_and_an_unlisted_host_unknown()
        {
            var key = Key("ssh-ed25519", 1);
            var known = KnownHosts.Load(File("# nodes", "", Line("[10.0.0.1]:2222", key)));
            Assert.Equal(HostKeyMatch.Known, known.Check("10.0.0.1", 2222, key, out _));
            Assert.Equal(HostKeyMatch.Changed, known.Check("10.0.0.1", 2222, Key("ssh-ed25519", 2), out int line));
            Assert.Equal(3, line);
            Assert.Equal(HostKeyMatch.Unknown, known.Check("10.0.0.1", 22, key, out _));
            Assert.Equal(HostKeyMatch.Unknown, known.Check("10.0.0.1", 2222, Key("ecdsa-sha2-nistp256", 1), out _));
        }

        [Fact]
        public void Hashed_wildcard_and_negated_host_patterns_match_as_OpenSSH_matches_them()
        {
            var salt = new byte[20];
            new Random(5).NextBytes(salt);
            string hash;
            using (var hmac = new HMACSHA1(salt)) hash = Convert.ToBase64String(hmac.ComputeHash(Encoding.ASCII.GetBytes("ctl1.example.org")));
            var hashedKey = Key("ssh-ed25519", 10);
            var wildKey = Key("ssh-ed25519", 20);
            var known = KnownHosts.Load(File(
                Line($"|1|{Convert.ToBase64String(salt)}|{hash}", hashedKey),
                Line("cmp*.example.org,!cmp9.example.org", wildKey)));
            Assert.Equal(HostKeyMatch.Known, known.Check("ctl1.example.org", 22, hashedKey, out _));
            Assert.Equal(HostKeyMatch.Unknown, known.Check("ctl2.example.org", 22, hashedKey, out _));
            Assert.Equal(HostKeyMatch.Known, known.Check("cmp4.example.org", 22, wildKey, out _));
            Assert.Equal(HostKeyMatch.Unknown, known.Check("cmp9.example.org", 22, wildKey, out _));
        }

        [Fact]
        public void Entries_hashed_by_ssh_keygen_H_match_their_hosts_and_ports()
        {
            var plainKey = Key("ssh-ed25519", 30);
            var portKey = Key("ssh-ed25519", 40);
            string path = File(Line("ctl1.example.org", plainKey), Line("[127.0.0.12]:2222", portKey));
            var psi = new ProcessStartInfo("ssh-keygen") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (string a in new[] { "-H", "-f", path }) psi.ArgumentList.Add(a);
            using (var p = Process.Start(psi))
            {
                string output = p.StandardOutput.ReadToEnd() + p.StandardError.ReadToEnd();
                p.WaitForExit();
                Assert.True(p.ExitCode == 0, output);
            }
            Assert.All(System.IO.File.ReadAllLines(path), l => Assert.StartsWith("|1|", l));

            var known = KnownHosts.Load(path);
            Assert.Equal(HostKeyMatch.Known, known.Check("ctl1.example.org", 22, plainKey, out _));
            Assert.Equal(HostKeyMatch.Known, known.Check("127.0.0.12", 2222, portKey, out _));
            Assert.Equal(HostKeyMatch.Changed, known.Check("127.0.0.12", 2222, plainKey, out int line));
            Assert.Equal(2, line);
            Assert.Equal(HostKeyMatch.Unknown, known.Check("127.0.0.12", 22, portKey, out _));
            Assert.Equal(HostKeyMatch.Unknown, known.Check("ctl2.example.org", 22, plainKey, out _));
        }

        [Fact]
        public void A_revoked_key_is_refused_even_when_listed()
        {
            var key = Key("ssh-ed25519", 3);
            var known = KnownHosts.Load(File(Line("node", key), "@revoked * " + KnownHosts.KeyType(key) + " " + Convert.ToBase64String(key)));
            Assert.Equal(HostKeyMatch.Revoked, known.Check("node", 22, key, out int line));
            Assert.Equal(2, line);
        }

        [Fact]
        public void A_recorded_key_is_a_line_that_ssh_keygen_finds()
        {
            string path = Path.Combine(_dir, "sub", "known_hosts");
            var key = Key("ssh-ed25519", 7);
            var known = KnownHosts.Load(path);
            known.Add("127.0.0.11", 2222, key);
            known.Add("127.0.0.11", 2222, key);
            Assert.Equal(HostKeyMatch.Known, KnownHosts.Load(path).Check("127.0.0.11", 2222, key, out _));
            Assert.Single(System.IO.File.ReadAllLines(path));

            var psi = new ProcessStartInfo("ssh-keygen") { RedirectStandardOutput = true, UseShellExecute = false };
            foreach (string a in new[] { "-F", "[127.0.0.11]:2222", "-f", path }) psi.ArgumentList.Add(a);
            using (var p = Process.Start(psi))
            {
                string output = p.StandardOutput.ReadToEnd();
                p.WaitForExit();
                Assert.Equal(0, p.ExitCode);
                Assert.Contains(Convert.ToBase64String(key), output);
            }
        }
    }
}
