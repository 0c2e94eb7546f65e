using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json.Nodes;
using System.Threading;
using DragonflowUpgrade.Dragonflow.Configuration;
using DragonflowUpgrade.Engine.Store;
using DragonflowUpgrade.Remote.Upgrade;
using Xunit;

namespace DragonflowUpgrade.Remote.Tests
{
    /// <summary>
    /// The upgrade's configuration step on the real test nodes: each change is recorded before its
    /// file is written, and the rollback puts back a file holding what was written or the original,
    /// and refuses one that holds neither.
    /// </summary>
    public sealed class UpgradeConfigurationTests : IDisposable
    {
        readonly TestCloud _cloud = new TestCloud(db: 47, nodes: 2);
        readonly string _folder;
        readonly IReadOnlyList<DfNode> _nodes;
        readonly byte[] _pike = File.ReadAllBytes(Path.Combine(TestCloud.RepoRoot, "tests", "fixtures", "pike-dragonflow.ini"));

        public UpgradeConfigurationTests()
        {
            _folder = Path.Combine(_cloud.Dir, "backups");
            // Each node's dragonflow.ini the Pike fixture, under the test's folder.
            _nodes = _cloud.Nodes.Select(n =>
            {
                string file = Path.Combine(_cloud.Dir, "config", n.Name, "dragonflow.ini");
                Directory.CreateDirectory(Path.GetDirectoryName(file));
                File.WriteAllBytes(file, _pike);
                return new DfNode(n.Name, n.Address, n.Port, n.User, n.IdentityFile, n.Chassis, n.Roles, n.Services, null, new[] { file });
            }).ToList();
        }

        public void Dispose() => _cloud.Dispose();

        string FileOf(int node) => _nodes[node].ConfigFiles[0];

        /// <summary>Options of a release after Queens that reads [df] nb_db_class (which the Pike file sets) as [df] nb_db_driver.</summary>
        string RenamingManifest()
        {
            var m = JsonNode.Parse(File.ReadAllText(Path.Combine(TestCloud.RepoRoot, "src", "DragonflowUpgrade.Dragonflow", "Options", "queens.json"))).AsObject();
            m["release"] = "next";
            var df = m["groups"]["df"].AsObject();
            df.Remove("nb_db_class");
            df["nb_db_driver"] = JsonNode.Parse(@"{ ""type"": ""string"", ""default"": ""etcd_nb_db_driver"", ""deprecatedNames"": [ { ""group"": ""df"", ""name"": ""nb_db_class"" } ] }");
            string path = Path.Combine(_cloud.Dir, "next-options.json");
            File.WriteAllText(path, m.ToJsonString());
            return path;
        }

        UpgradeRun NewRun(string manifest, bool noRollback = false)
        {
            string database = Path.Combine(_cloud.Dir, "nb.jsonl");
            if (!File.Exists(database)) File.Copy(Path.Combine(TestCloud.RepoRoot, "tests", "fixtures", "pike-nb.jsonl"), database);
            var settings = new UpgradeSettings
            {
                Nodes = _nodes,
                OpenDatabase = () => NbStoreFactory.Open(database),
                TargetRelease = "queens",
                OptionManifest = manifest,
                BackupFolder = _folder,
                Ssh = TestCloud.Connector(knownHosts: TestCloud.KnownHostsPath),
                NoRollback = noRollback,
            };
            return new UpgradeRun(settings, UpgradeSteps.Default().Where(s => s.Name == UpgradeSteps.Configuration).ToList());
        }

        [Fact]
        public void Each_change_is_handed_over_for_its_record_before_its_file_is_written()
        {
            var target = OptionManifest.Resolve(RenamingManifest(), Path.GetFullPath);
            var configuration = new NodeConfiguration(TestCloud.Connector(knownHosts: TestCloud.KnownHostsPath), 4, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);
            var files = configuration.Check(_nodes, OptionManifest.Of("pike"), target).ToList();
            Assert.All(files, f => Assert.Null(f.Error));
            var recorded = new List<ConfigurationChange>();
            var results = configuration.Apply(files, _folder, default, change =>
            {
                // Not written yet: a process killed now leaves the original, and the record says so.
                Assert.Equal(_pike, File.ReadAllBytes(change.Path));
                Assert.Equal(NodeFiles.Sha256(_pike), change.OriginalSha256);
                lock (recorded) recorded.Add(change);
            }).ToList();
            Assert.All(results, r => Assert.Null(r.Error));
            Assert.Equal(2, recorded.Count);
            foreach (var change in recorded)
            {
                Assert.Equal(change.WrittenSha256, NodeFiles.Sha256(File.ReadAllBytes(change.Path)));
                Assert.Equal(_pike, File.ReadAllBytes(change.Backup));
            }
        }

        [Fact]
        public void The_rollback_refuses_a_file_that_holds_neither_what_was_written_nor_the_original_naming_it()
        {
            Assert.Equal(UpgradeStatus.Completed, NewRun(RenamingManifest(), noRollback: true).Run(_ => { }, null, CancellationToken.None).Status);
            File.AppendAllText(FileOf(1), "# edited by someone else\n");
            byte[] edited = File.ReadAllBytes(FileOf(1));
            var state = UpgradeState.Load(_folder);
            state.Status = UpgradeStatus.Failed;
            state.Save();

            var e = Assert.Throws<UpgradeFailedException>(() => NewRun(null).Undo(_ => { }, null, CancellationToken.None));
            Assert.Contains($"{_nodes[1].Name}: {FileOf(1)} changed", e.Message);
            Assert.Equal(edited, File.ReadAllBytes(FileOf(1)));
            Assert.Equal(_pike, File.ReadAllBytes(FileOf(0)));
            state = UpgradeState.Load(_folder);
            Assert.Equal(UpgradeStatus.RollbackFailed, state.Status);
            Assert.Equal(FileOf(1), Assert.Single(state.ConfigurationChanges).Path);
        }

        [Fact]
        public void The_rollback_puts_back_a_file_holding_what_was_written_and_accepts_one_holding_the_original_already()
        {
            string manifest = RenamingManifest();
            var run = NewRun(manifest, noRollback: true);
            Assert.Equal(UpgradeStatus.Completed, run.Run(_ => { }, null, CancellationToken.None).Status);
            Assert.DoesNotContain("nb_db_class", File.ReadAllText(FileOf(0)));
            // What a process killed between the record and the write leaves: the file as it was, its change recorded.
            File.WriteAllBytes(FileOf(1), _pike);
            var state = UpgradeState.Load(_folder);
            state.Status = UpgradeStatus.Failed;
            state.Save();

            var results = new List<UpgradeStepResult>();
            Assert.Equal(UpgradeStatus.RolledBack, NewRun(null).Undo(results.Add, null, CancellationToken.None).Status);
            Assert.Equal(_pike, File.ReadAllBytes(FileOf(0)));
            Assert.Equal(_pike, File.ReadAllBytes(FileOf(1)));
            Assert.Equal(2, results.Count(r => r.Status == UpgradeStepStatus.RolledBack));
            Assert.Empty(UpgradeState.Load(_folder).ConfigurationChanges);
        }
    }
}
