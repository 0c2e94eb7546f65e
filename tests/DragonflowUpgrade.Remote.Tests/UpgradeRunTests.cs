using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.Json.Nodes;
using System.Threading;
using DragonflowUpgrade.Dragonflow;
using DragonflowUpgrade.Engine.Errors;
using DragonflowUpgrade.Engine.Migrations;
using DragonflowUpgrade.Engine.Run;
using DragonflowUpgrade.Engine.Store;
using DragonflowUpgrade.Remote.Upgrade;
using Xunit;

namespace DragonflowUpgrade.Remote.Tests
{
    /// <summary>
    /// The whole upgrade's sequencing, rollback and resume, with steps that record what they do, a
    /// real file NB database (the state names it) and the real test nodes.
    /// </summary>
    public sealed class UpgradeRunTests : IDisposable
    {
        readonly TestCloud _cloud = new TestCloud(db: 46, nodes: 2);
        readonly List<string> _log = new List<string>();
        readonly string _folder;
        readonly string _database;

        public UpgradeRunTests()
        {
            _folder = Path.Combine(_cloud.Dir, "backups");
            _database = Path.Combine(_cloud.Dir, "nb.jsonl");
            File.Copy(Path.Combine(TestCloud.RepoRoot, "tests", "fixtures", "pike-nb.jsonl"), _database);
        }

        public void Dispose() => _cloud.Dispose();

        /// <summary>A step that writes "do X" / "undo X" to the test's log; it fails (or is "killed") when told.</summary>
        sealed class Recording : IUpgradeStep
        {
            readonly List<string> _log;
            public Recording(string name, List<string> log) { Name = name; _log = log; }
            public string Name { get; }
            public bool RollsBack => true;
            public Exception FailWith { get; set; }
            public Exception UndoFailsWith { get; set; }
            public Exception UndoLacks { get; set; }
            public Action OnDo { get; set; }
            public Action OnUndo { get; set; }
            public IEnumerable<(string Node, string Detail)> Describe(UpgradeContext c) => new[] { ((string)null, "would " + Name) };
            public void Do(UpgradeContext c)
            {
                _log.Add("do " + Name);
                OnDo?.Invoke();
                if (FailWith != null) throw FailWith;
            }
            public void Undo(UpgradeContext c)
            {
                _log.Add("undo " + Name);
                OnUndo?.Invoke();
                if (UndoFailsWith != null) throw UndoFailsWith;
            }
            public void RequireUndoable(UpgradeContext c) { if (UndoLacks != null) throw UndoLacks; }
        }

        (UpgradeRun Run, List<Recording> Steps) NewRun(bool noRollback = false, string database = null, string updateCommand = null, string optionManifest = null,
            NeutronDatabase neutron = null, IReadOnlyList<DfNode> nodes = null, IReadOnlyList<IUpgradeStep> realSteps = null, string revertCommand = null, ListLogger logger = null,
            Func<INbStore, Migrator> createMigrator = null, string targetRelease = "queens")
        {
            var steps = new[] { "A", "B", "C", "D" }.Select(n => new Recording(n, _log)).ToList();
            var settings = new UpgradeSettings
            {
                Nodes = nodes ?? _cloud.Nodes,
                OpenDatabase = () => NbStoreFactory.Open(database ?? _database),
                Neutron = neutron,
                NeutronPassword = neutron == null ? null : "s3cret-neutron",
                TargetRelease = targetRelease,
                BackupFolder = _folder,
                Ssh = TestCloud.Connector(knownHosts: TestCloud.KnownHostsPath),
                NoRollback = noRollback,
                UpdateCommand = updateCommand,
                RevertCommand = revertCommand ?? (updateCommand == null ? null : "true"),
                OptionManifest = optionManifest,
                CreateMigrator = createMigrator,
            };
            if (logger != null) settings.Logger = logger;
            return (new UpgradeRun(settings, realSteps ?? steps), steps);
        }

        UpgradeState Run(UpgradeRun run) => run.Run(_ => { }, null, CancellationToken.None);

        /// <summary>Neutron's database as the test cloud's inventory with <paramref name="table"/> as its NeutronDatabase table gives it.</summary>
        NeutronDatabase NeutronOf(string table)
        {
            var json = JsonNode.Parse(File.ReadAllText(_cloud.InventoryPath)).AsObject();
            json["NeutronDatabase"] = JsonNode.Parse(table);
            string path = Path.Combine(_cloud.Dir, "inventory-" + Guid.NewGuid().ToString("N").Substring(0, 6) + ".json");
            File.WriteAllText(path, json.ToJsonString());
            return Inventory.ParseNeutronDatabase(Inventory.ReadJson(path), path);
        }

        [Fact]
        public void Resume_or_undo_with_another_Neutron_setup_or_other_nodes_of_the_same_names_is_refused_and_changes_nothing()
        {
            var neutron = NeutronOf(@"{ ""Migrate"": ""MYSQL_PWD={password} neutron-db-manage upgrade heads"" }");
            var (run, steps) = NewRun(noRollback: true, neutron: neutron);
            steps[1].FailWith = new InvalidOperationException("B broke");
            Assert.Throws<UpgradeFailedException>(() => Run(run));
            string statePath = UpgradeState.PathIn(_folder), before = File.ReadAllText(statePath);
            Assert.DoesNotContain("s3cret-neutron", before);
            Assert.Contains("{password} neutron-db-manage", before);
            _log.Clear();

            void Refused(string expected, NeutronDatabase given, IReadOnlyList<DfNode> nodes = null)
            {
                foreach (var undo in new[] { false, true })
                {
                    var (again, _) = NewRun(neutron: given, nodes: nodes);
                    var e = Assert.Throws<DfException>(() => { if (undo) again.Undo(_ => { }, null, CancellationToken.None); else again.Resume(_ => { }, null, CancellationToken.None); });
                    Assert.Equal("UpgradeStateOtherCloud", e.ErrorId);
                    Assert.Contains(expected, e.Message);
                }
            }
            Refused($"migrates Neutron's database on {_cloud.Nodes[0].Name}, and the inventory given has no NeutronDatabase", null);
            Refused("its Migrate command was 'MYSQL_PWD=*** neutron-db-manage upgrade heads', now 'neutron-db-manage upgrade heads'", NeutronOf("{}"));
            var n = _cloud.Nodes[1];
            var moved = new[] { _cloud.Nodes[0], new DfNode(n.Name, n.Address, n.Port + 1, n.User, n.IdentityFile, n.Chassis, n.Roles, n.Services) };
            Refused($"records the node {n.Name} as {n.User}@{n.Address}:{n.Port} (compute), and the inventory given says {n.User}@{n.Address}:{n.Port + 1} (compute)", neutron, moved);
            var promoted = new[] { _cloud.Nodes[0], new DfNode(n.Name, n.Address, n.Port, n.User, n.IdentityFile, n.Chassis, new[] { "compute", "network" }, n.Services) };
            Refused("(compute, network)", neutron, promoted);
            Assert.Empty(_log);
            Assert.Equal(before, File.ReadAllText(statePath));

            Assert.Equal(UpgradeStatus.Completed, NewRun(neutron: NeutronOf(@"{ ""Migrate"": ""MYSQL_PWD={password} neutron-db-manage upgrade heads"" }")).Run.Resume(_ => { }, null, CancellationToken.None).Status);
        }

        [Fact]
        public void A_state_file_of_an_upgrade_without_Neutron_refuses_an_inventory_that_has_it()
        {
            var (run, steps) = NewRun(noRollback: true);
            steps[1].FailWith = new InvalidOperationException("B broke");
            Assert.Throws<UpgradeFailedException>(() => Run(run));
            _log.Clear();
            var e = Assert.Throws<DfException>(() => NewRun(neutron: NeutronOf("{}")).Run.Resume(_ => { }, null, CancellationToken.None));
            Assert.Equal("UpgradeStateOtherCloud", e.ErrorId);
            Assert.Contains($"leaves Neutron's database alone (its inventory had no NeutronDatabase), and the inventory given has one on {_cloud.Nodes[0].Name}", e.Message);
            Assert.Empty(_log);
        }

        [Fact]
        public void Runs_every_step_in_order_and_records_each_done()
        {
            var (run, _) = NewRun();
            var state = Run(run);
            Assert.Equal(new[] { "do A", "do B", "do C", "do D" }, _log);
            var saved = UpgradeState.Load(_folder);
            Assert.Equal(UpgradeStatus.Completed, saved.Status);
            Assert.All(saved.Steps, s => Assert.Equal(StepState.Done, s.State));
            Assert.Equal(state.Id, saved.Id);
            Assert.True(File.Exists(Path.Combine(_folder, $"df-upgrade-{state.Id}.md")));
        }

        [Fact]
        public void A_failed_step_undoes_it_and_every_step_before_it_last_first()
        {
            var (run, steps) = NewRun();
            steps[2].FailWith = new StepFailedException("node2", "C broke");
            var e = Assert.Throws<UpgradeFailedException>(() => Run(run));
            Assert.Equal("UpgradeRolledBack", e.ErrorId);
            Assert.Contains("at step C on node2: C broke", e.Message);
            Assert.Equal(new[] { "do A", "do B", "do C", "undo C", "undo B", "undo A" }, _log);
            var saved = UpgradeState.Load(_folder);
            Assert.Equal(UpgradeStatus.RolledBack, saved.Status);
            Assert.Equal(StepState.Pending, saved.Step("D").State);
        }

        [Fact]
        public void A_report_that_cannot_be_written_leaves_the_runs_own_outcome_to_be_seen()
        {
            var (run, steps) = NewRun();
            // Folders where the report's two files go: neither can be written.
            steps[2].OnDo = () =>
            {
                string id = UpgradeState.Load(_folder).Id;
                Directory.CreateDirectory(Path.Combine(_folder, $"df-upgrade-{id}.json"));
                Directory.CreateDirectory(Path.Combine(_folder, $"df-upgrade-{id}.md"));
            };
            steps[2].FailWith = new StepFailedException("node2", "C broke");
            var e = Assert.Throws<UpgradeFailedException>(() => Run(run));
            Assert.Equal("UpgradeRolledBack", e.ErrorId);
            Assert.Equal(new[] { "do A", "do B", "do C", "undo C", "undo B", "undo A" }, _log);
            Assert.Equal(UpgradeStatus.RolledBack, UpgradeState.Load(_folder).Status);
        }

        [Fact]
        public void A_rollback_that_would_lack_what_an_undo_needs_undoes_nothing_and_says_what_is_missing()
        {
            var (run, steps) = NewRun();
            steps[1].UndoLacks = new DfException("NeutronPasswordMissing", DfErrorCategory.InvalidArgument, "give -NeutronCredential", null, null);
            steps[2].FailWith = new StepFailedException(null, "C broke");
            var e = Assert.Throws<UpgradeFailedException>(() => Run(run));
            Assert.Equal("UpgradeFailed", e.ErrorId);
            Assert.Contains("The rollback did not start, so nothing was undone: it would fail at B (give -NeutronCredential)", e.Message);
            Assert.Equal(new[] { "do A", "do B", "do C" }, _log);
            var saved = UpgradeState.Load(_folder);
            Assert.Equal(UpgradeStatus.RollbackFailed, saved.Status);
            Assert.Equal(StepState.Done, saved.Step("B").State);

            _log.Clear();
            Assert.Equal(UpgradeStatus.RolledBack, NewRun().Run.Undo(_ => { }, null, CancellationToken.None).Status);
            Assert.Equal(new[] { "undo C", "undo B", "undo A" }, _log);
        }

        [Fact]
        public void A_rollback_stops_at_an_undo_that_fails_starting_nothing_over_it_and_a_later_Undo_finishes_it()
        {
            var (run, steps) = NewRun();
            steps[2].UndoFailsWith = new StepFailedException("node1", "the restore failed");
            steps[3].FailWith = new StepFailedException(null, "D broke");
            var e = Assert.Throws<UpgradeFailedException>(() => Run(run));
            Assert.Equal("UpgradeFailed", e.ErrorId);
            Assert.Contains("The rollback failed at C (the restore failed) and stopped there", e.Message);
            Assert.Equal(new[] { "do A", "do B", "do C", "do D", "undo D", "undo C" }, _log);
            var saved = UpgradeState.Load(_folder);
            Assert.Equal(UpgradeStatus.RollbackFailed, saved.Status);
            Assert.Equal(StepState.UndoFailed, saved.Step("C").State);
            Assert.Equal(StepState.Done, saved.Step("A").State);

            _log.Clear();
            Assert.Equal(UpgradeStatus.RolledBack, NewRun().Run.Undo(_ => { }, null, CancellationToken.None).Status);
            Assert.Equal(new[] { "undo C", "undo B", "undo A" }, _log);
        }

        [Theory]
        [InlineData("neutronBackupPath")]
        [InlineData("nbBackupPath")]
        public void A_state_file_naming_a_backup_outside_the_upgrades_folder_is_refused(string field)
        {
            var (run, steps) = NewRun(noRollback: true);
            steps[1].FailWith = new InvalidOperationException("B broke");
            Assert.Throws<UpgradeFailedException>(() => Run(run));
            var state = UpgradeState.Load(_folder);
            string elsewhere = Path.Combine(_cloud.Dir, "elsewhere", "neutron-node1.sql.gz");
            if (field == "neutronBackupPath") state.NeutronBackupPath = elsewhere; else state.NbBackupPath = elsewhere;
            state.Save();
            _log.Clear();
            foreach (var undo in new[] { false, true })
            {
                var (again, _) = NewRun();
                var e = Assert.Throws<DfException>(() => { if (undo) again.Undo(_ => { }, null, CancellationToken.None); else again.Resume(_ => { }, null, CancellationToken.None); });
                Assert.Equal("UpgradeStateInvalid", e.ErrorId);
                Assert.Contains(elsewhere + ", which is not in the upgrade's backup folder", e.Message);
            }
            Assert.Empty(_log);
        }

        [Fact]
        public void NoRollback_leaves_the_failure_and_Resume_carries_on_from_the_failed_step()
        {
            var (run, steps) = NewRun(noRollback: true);
            steps[1].FailWith = new InvalidOperationException("B broke");
            var e = Assert.Throws<UpgradeFailedException>(() => Run(run));
            Assert.Equal("UpgradeFailed", e.ErrorId);
            Assert.Equal(new[] { "do A", "do B" }, _log);

            var (again, _) = NewRun();
            var refused = Assert.Throws<DfException>(() => Run(again));
            Assert.Equal("UpgradeInterrupted", refused.ErrorId);
            Assert.Contains("step B", refused.Message);

            _log.Clear();
            var (resumed, _) = NewRun();
            Assert.Equal(UpgradeStatus.Completed, resumed.Resume(_ => { }, null, CancellationToken.None).Status);
            Assert.Equal(new[] { "do B", "do C", "do D" }, _log);
        }

        [Fact]
        public void An_unfinished_upgrade_whose_lock_is_gone_still_refuses_another_upgrade_until_it_is_undone()
        {
            var (run, steps) = NewRun(noRollback: true);
            steps[1].FailWith = new InvalidOperationException("B broke");
            Assert.Throws<UpgradeFailedException>(() => Run(run));
            using (var store = NbStoreFactory.Open(_database))
                Assert.Null(Engine.Safety.UpgradeLock.Read(store)); // the run's lock went with it
            string id = UpgradeState.Load(_folder).Id;
            _log.Clear();

            // Another -BackupPath has no state file: only the database knows an upgrade is under way.
            var settings = new UpgradeSettings
            {
                Nodes = _cloud.Nodes, OpenDatabase = () => NbStoreFactory.Open(_database), TargetRelease = "queens",
                BackupFolder = Path.Combine(_cloud.Dir, "other-backups"), Ssh = TestCloud.Connector(knownHosts: TestCloud.KnownHostsPath),
            };
            var e = Assert.Throws<Engine.Safety.UpgradeUnderWayException>(() => new UpgradeRun(settings, steps).Run(_ => { }, null, CancellationToken.None));
            Assert.Equal("DatabaseLockedByUpgrade", e.ErrorId);
            Assert.Contains(id, e.Message);
            Assert.Contains(Path.GetFullPath(_folder), e.RecommendedAction);
            Assert.Empty(_log);
            Assert.False(File.Exists(UpgradeState.PathIn(settings.BackupFolder)));

            Assert.Equal(UpgradeStatus.RolledBack, NewRun().Run.Undo(_ => { }, null, CancellationToken.None).Status);
            _log.Clear();
            steps[1].FailWith = null;
            Assert.Equal(UpgradeStatus.Completed, new UpgradeRun(settings, steps).Run(_ => { }, null, CancellationToken.None).Status);
            Assert.Equal(new[] { "do A", "do B", "do C", "do D" }, _log);
            using (var store = NbStoreFactory.Open(_database))
                Assert.Null(Engine.Safety.UpgradeUnderWay.Read(store)); // a completed upgrade leaves no record
        }

        [Fact]
        public void A_bad_placeholder_in_the_revert_command_given_to_resume_or_undo_is_refused_before_anything_is_undone()
        {
            var (run, steps) = NewRun(noRollback: true);
            steps[2].FailWith = new InvalidOperationException("C broke");
            Assert.Throws<UpgradeFailedException>(() => Run(run));
            string before = File.ReadAllText(UpgradeState.PathIn(_folder));
            _log.Clear();
            foreach (var resume in new[] { true, false })
            {
                var (again, _) = NewRun(revertCommand: "apt-get install -y python-dragonflow={nod}");
                var e = Assert.Throws<DfException>(() => resume
                    ? again.Resume(_ => { }, null, CancellationToken.None)
                    : again.Undo(_ => { }, null, CancellationToken.None));
                Assert.Equal("UpgradeCommandInvalid", e.ErrorId);
                Assert.StartsWith("-RevertCommand: {nod} is not a placeholder", e.Message);
            }
            Assert.Empty(_log);   // nothing done, nothing undone
            Assert.Equal(before, File.ReadAllText(UpgradeState.PathIn(_folder)));
        }

        [Theory]
        [InlineData(false)]
        [InlineData(true)]
        public void The_record_of_an_upgrade_killed_before_its_first_save_is_cleared_by_the_next_run_with_a_warning(bool earlierStateFile)
        {
            if (earlierStateFile)
            {
                // The folder holds a finished upgrade's state file, which the killed one would have replaced.
                Assert.Equal(UpgradeStatus.Completed, Run(NewRun().Run).Status);
                _log.Clear();
            }
            // What a kill between recording the upgrade in the database and saving its state leaves: the record, no lock (it expired), no state file of its own.
            using (var store = NbStoreFactory.Open(_database))
                Engine.Safety.UpgradeUnderWay.Begin(store, "20260101T000000Z-killed", "queens", Path.GetFullPath(_folder));
            var logger = new ListLogger();
            var (run, _) = NewRun(logger: logger);
            // Readiness refuses a database recorded as under an upgrade, as Test-DfUpgradeReadiness does: the record is cleared before it.
            Assert.Equal(UpgradeStatus.Completed, run.Run(_ => { }, null, CancellationToken.None, NoUpgradeRecorded).Status);
            Assert.Equal(new[] { "do A", "do B", "do C", "do D" }, _log);
            Assert.Contains(logger.Lines, l => l.Message.Contains("20260101T000000Z-killed") && l.Message.Contains("nothing to resume or undo"));
            using (var store = NbStoreFactory.Open(_database))
                Assert.Null(Engine.Safety.UpgradeUnderWay.Read(store));
        }

        IReadOnlyList<ReadinessResult> NoUpgradeRecorded()
        {
            using (var store = NbStoreFactory.Open(_database))
                return new[] { new ReadinessResult("NbDatabase", null, Engine.Safety.UpgradeUnderWay.Read(store) == null ? ReadinessStatus.Passed : ReadinessStatus.Failed, "an upgrade is recorded as under way") };
        }

        [Fact]
        public void The_record_of_an_upgrade_that_saved_its_state_is_not_cleared_when_the_state_file_cannot_be_found()
        {
            // A folder not mounted (or emptied) looks like one the upgrade never saved to: the record says otherwise.
            using (var store = NbStoreFactory.Open(_database))
            {
                Engine.Safety.UpgradeUnderWay.Begin(store, "20260101T000000Z-saved0", "queens", Path.GetFullPath(_folder));
                Engine.Safety.UpgradeUnderWay.MarkStateSaved(store, "20260101T000000Z-saved0");
                Assert.Equal(true, Engine.Safety.UpgradeUnderWay.Read(store)!.StateSaved);
            }
            var e = Assert.IsAssignableFrom<DfException>(Record.Exception(() => Run(NewRun().Run)));
            Assert.Equal(Engine.Safety.UpgradeLockedException.InterruptedUpgradeId, e.ErrorId);
            Assert.Empty(_log);
            using (var store = NbStoreFactory.Open(_database))
            {
                Assert.NotNull(Engine.Safety.UpgradeUnderWay.Read(store));
                Engine.Safety.UpgradeUnderWay.End(store);
            }
        }

        [Fact]
        public void The_record_of_an_upgrade_whose_lock_holder_lives_is_not_cleared_though_it_has_no_state_file_yet()
        {
            using (var store = NbStoreFactory.Open(_database))
            using (Engine.Safety.UpgradeLock.Acquire(store, "Invoke-DfUpgrade (a live one)", null, "20260101T000000Z-alive0"))
            {
                Engine.Safety.UpgradeUnderWay.Begin(store, "20260101T000000Z-alive0", "queens", Path.GetFullPath(_folder));
                var e = Assert.IsAssignableFrom<DfException>(Record.Exception(() => Run(NewRun().Run)));
                Assert.Equal("DatabaseLockedByUpgrade", e.ErrorId);
                Assert.Empty(_log);
                Assert.NotNull(Engine.Safety.UpgradeUnderWay.Read(store));
                Engine.Safety.UpgradeUnderWay.End(store);
            }
        }

        [Fact]
        public void An_upgrade_that_died_mid_step_is_undone_from_that_step()
        {
            // What a process killed in step C leaves: the state file as it was while C ran.
            var (run, steps) = NewRun();
            string statePath = UpgradeState.PathIn(_folder), killed = statePath + ".killed";
            steps[2].FailWith = new InvalidOperationException("the process dies here");
            steps[2].OnDo = () => File.Copy(statePath, killed);
            Assert.Throws<UpgradeFailedException>(() => Run(run));
            File.Copy(killed, statePath, true);
            Assert.Equal(StepState.Running, UpgradeState.Load(_folder).Step("C").State);

            _log.Clear();
            var (undo, _) = NewRun();
            Assert.Equal(UpgradeStatus.RolledBack, undo.Undo(_ => { }, null, CancellationToken.None).Status);
            Assert.Equal(new[] { "undo C", "undo B", "undo A" }, _log);
            Assert.Null(NewRun().Run.FindInterrupted());
        }

        [Theory]
        [InlineData(false)]
        [InlineData(true)]
        public void A_rollback_killed_inside_an_undo_is_finished_by_resume_or_undo_never_carried_forward(bool undo)
        {
            var recorded = KilledInsideTheUndoOfB();
            Assert.Equal(StepState.Undoing, recorded.Step("B").State);
            Assert.Equal(UpgradeStatus.RollingBack, recorded.Status);
            Assert.Equal("B", recorded.StepReached);

            if (!undo)
            {
                ResumeRollsBack("undo B", "undo A");
                return;
            }
            Assert.Equal(UpgradeStatus.RolledBack, NewRun().Run.Undo(_ => { }, null, CancellationToken.None).Status);
            Assert.Equal(new[] { "undo B", "undo A" }, _log);
            RequireRolledBack();
        }

        /// <summary>What a process killed inside B's undo leaves (D failed; D and C are undone): the state file as it was then, with the log cleared.</summary>
        UpgradeState KilledInsideTheUndoOfB()
        {
            var (run, steps) = NewRun();
            string statePath = UpgradeState.PathIn(_folder), killed = statePath + ".killed";
            steps[3].FailWith = new StepFailedException(null, "D broke");
            steps[1].OnUndo = () => File.Copy(statePath, killed);
            Assert.Throws<UpgradeFailedException>(() => Run(run));
            File.Copy(killed, statePath, true);
            _log.Clear();
            return UpgradeState.Load(_folder);
        }

        /// <summary>A resume that goes on with the rollback to its end: it fails saying so, having undone <paramref name="undone"/> in that order.</summary>
        void ResumeRollsBack(params string[] undone)
        {
            var e = Assert.Throws<UpgradeFailedException>(() => NewRun().Run.Resume(_ => { }, null, CancellationToken.None));
            Assert.Equal("UpgradeRolledBack", e.ErrorId);
            Assert.Contains("so the resume went on with the rollback instead of the upgrade.", e.Message);
            Assert.Equal(undone, _log);
            RequireRolledBack();
        }

        void RequireRolledBack()
        {
            var saved = UpgradeState.Load(_folder);
            Assert.Equal(UpgradeStatus.RolledBack, saved.Status);
            Assert.All(saved.Steps, s => Assert.Equal(StepState.Undone, s.State));
            Assert.Null(NewRun().Run.FindInterrupted());
        }

        [Fact]
        public void A_resumed_rollback_that_lacks_what_an_undo_needs_stays_rolling_back_and_the_next_resume_goes_on_with_it()
        {
            KilledInsideTheUndoOfB();
            var (lacking, steps) = NewRun();
            steps[0].UndoLacks = new DfException("NeutronPasswordMissing", DfErrorCategory.InvalidArgument, "give -NeutronCredential", null, null);
            var e = Assert.Throws<UpgradeFailedException>(() => lacking.Resume(_ => { }, null, CancellationToken.None));
            Assert.Equal("UpgradeFailed", e.ErrorId);
            Assert.Contains("so the resume went on with the rollback instead of the upgrade, and the rollback did not finish. " +
                "The rollback could not go on, so nothing more was undone: it would fail at A (give -NeutronCredential)", e.Message);
            Assert.Empty(_log);
            Assert.Equal(UpgradeStatus.RollingBack, UpgradeState.Load(_folder).Status);

            ResumeRollsBack("undo B", "undo A");
        }

        [Fact]
        public void Resume_after_a_rollback_that_failed_at_an_undo_goes_on_with_the_rollback_never_the_upgrade()
        {
            var (run, steps) = NewRun();
            steps[2].UndoFailsWith = new StepFailedException("node1", "the restore failed");
            steps[3].FailWith = new StepFailedException(null, "D broke");
            Assert.Throws<UpgradeFailedException>(() => Run(run));
            Assert.Equal(UpgradeStatus.RollbackFailed, UpgradeState.Load(_folder).Status);
            var refused = Assert.Throws<DfException>(() => Run(NewRun().Run));
            Assert.Equal("UpgradeInterrupted", refused.ErrorId);
            Assert.Contains("stopped at step C (RollbackFailed", refused.Message);
            Assert.StartsWith("Its rollback had begun, so it is not carried on: run Invoke-DfUpgrade -Resume or Undo-DfUpgrade", refused.RecommendedAction);

            _log.Clear();
            var (again, failing) = NewRun();
            failing[2].UndoFailsWith = new StepFailedException("node1", "the restore failed again");
            var e = Assert.Throws<UpgradeFailedException>(() => again.Resume(_ => { }, null, CancellationToken.None));
            Assert.Equal("UpgradeFailed", e.ErrorId);
            Assert.Contains("so the resume went on with the rollback instead of the upgrade, and the rollback did not finish. The rollback failed at C (the restore failed again)", e.Message);
            Assert.Equal(new[] { "undo C" }, _log);

            _log.Clear();
            ResumeRollsBack("undo C", "undo B", "undo A");
        }

        [Fact]
        public void Resume_of_a_rollback_an_earlier_version_recorded_as_failed_with_a_step_undone_goes_on_with_the_rollback()
        {
            // An earlier version recorded neither RollingBack nor Undoing: killed inside B's undo, it left Failed, B done, C and D undone.
            var recorded = KilledInsideTheUndoOfB();
            recorded.Status = UpgradeStatus.Failed;
            recorded.Step("B").State = StepState.Done;
            recorded.Save();

            ResumeRollsBack("undo B", "undo A");
        }

        [Fact]
        public void A_state_file_of_another_database_or_a_damaged_one_is_refused_and_changes_nothing()
        {
            var (run, steps) = NewRun(noRollback: true);
            steps[0].FailWith = new InvalidOperationException("A broke");
            Assert.Throws<UpgradeFailedException>(() => Run(run));
            string statePath = UpgradeState.PathIn(_folder);
            string before = File.ReadAllText(statePath);

            string other = Path.Combine(_cloud.Dir, "other.jsonl");
            File.Copy(_database, other);
            var e = Assert.Throws<DfException>(() => NewRun(database: other).Run.Resume(_ => { }, null, CancellationToken.None));
            Assert.Equal("UpgradeStateOtherCloud", e.ErrorId);

            File.WriteAllText(statePath, before.Substring(0, before.Length / 2));
            e = Assert.Throws<DfException>(() => NewRun().Run.Undo(_ => { }, null, CancellationToken.None));
            Assert.Equal("UpgradeStateInvalid", e.ErrorId);
            Assert.Contains(statePath, e.Message);
            Assert.Equal(new[] { "do A" }, _log);
        }

        [Theory]
        [InlineData("a later step marked done", "C=Done")]
        [InlineData("a step started after one never started", "D=Running")]
        [InlineData("the steps out of order", "swap")]
        [InlineData("a step twice", "twice")]
        public void A_state_file_edited_by_hand_to_skip_steps_is_refused_and_changes_nothing(string why, string edit)
        {
            var (run, steps) = NewRun(noRollback: true);
            steps[1].FailWith = new InvalidOperationException("B broke");
            Assert.Throws<UpgradeFailedException>(() => Run(run));
            var state = UpgradeState.Load(_folder);
            if (edit == "swap") state.Steps.Reverse(2, 2);
            else if (edit == "twice") state.Steps[3] = new StepRecord { Name = "C", State = StepState.Pending };
            else state.Step(edit.Split('=')[0]).State = Enum.Parse<StepState>(edit.Split('=')[1]);
            state.Save();
            string before = File.ReadAllText(state.Path);
            _log.Clear();

            var e = Assert.Throws<DfException>(() => NewRun().Run.Resume(_ => { }, null, CancellationToken.None));
            Assert.Equal("UpgradeStateInvalid", e.ErrorId);
            Assert.Contains(state.Path, e.Message);
            e = Assert.Throws<DfException>(() => NewRun().Run.Undo(_ => { }, null, CancellationToken.None));
            Assert.Equal("UpgradeStateInvalid", e.ErrorId);
            Assert.True(_log.Count == 0, why + ": " + string.Join(", ", _log));
            Assert.Equal(before, File.ReadAllText(state.Path));
        }

        [Fact]
        public void Resume_with_another_update_command_or_option_manifest_is_refused_and_the_recorded_ones_are_kept()
        {
            string manifest = Path.Combine(_cloud.Dir, "manifest.json");
            var (run, steps) = NewRun(noRollback: true, updateCommand: "true", optionManifest: manifest);
            steps[1].FailWith = new InvalidOperationException("B broke");
            Assert.Throws<UpgradeFailedException>(() => Run(run));
            _log.Clear();

            var e = Assert.Throws<DfException>(() => NewRun(updateCommand: "false").Run.Resume(_ => { }, null, CancellationToken.None));
            Assert.Equal("UpgradeStateOtherCloud", e.ErrorId);
            Assert.Contains("-UpdateCommand", e.Message);
            e = Assert.Throws<DfException>(() => NewRun(optionManifest: manifest + ".other").Run.Resume(_ => { }, null, CancellationToken.None));
            Assert.Equal("UpgradeStateOtherCloud", e.ErrorId);
            Assert.Contains(manifest, e.Message);
            Assert.Empty(_log);

            Assert.Equal(UpgradeStatus.Completed, NewRun(updateCommand: "true", optionManifest: manifest).Run.Resume(_ => { }, null, CancellationToken.None).Status);
            Assert.Equal(new[] { "do B", "do C", "do D" }, _log);
        }

        [Fact]
        public void The_update_step_reverts_every_node_its_command_started_on_the_failed_one_included()
        {
            string releases = Path.Combine(_cloud.Dir, "releases");
            Directory.CreateDirectory(releases);
            var settings = new UpgradeSettings
            {
                Nodes = _cloud.Nodes,
                OpenDatabase = () => NbStoreFactory.Open(_database),
                TargetRelease = "queens",
                BackupFolder = _folder,
                Ssh = TestCloud.Connector(knownHosts: TestCloud.KnownHostsPath),
                UpdateCommand = $"echo queens > {ShellQuote.Quote(releases)}/{{node}}; test {{node}} != {_cloud.Nodes[1].Name}",
                RevertCommand = $"echo pike > {ShellQuote.Quote(releases)}/{{node}}",
            };
            var results = new List<UpgradeStepResult>();
            var run = new UpgradeRun(settings, UpgradeSteps.Default().Where(s => s.Name == UpgradeSteps.Update).ToList());
            var e = Assert.Throws<UpgradeFailedException>(() => run.Run(results.Add, null, CancellationToken.None));
            Assert.Equal(_cloud.Nodes[1].Name, e.Node);
            foreach (var node in _cloud.Nodes)
                Assert.Equal("pike", File.ReadAllText(Path.Combine(releases, node.Name)).Trim());
            Assert.Equal(2, results.Count(r => r.Step == UpgradeSteps.Update && r.Status == UpgradeStepStatus.RolledBack));
        }

        [Theory]
        [InlineData(true)]
        [InlineData(false)]
        public void A_revert_that_failed_on_one_node_then_resume_or_undo_leaves_every_node_on_one_release_reverting_none_twice(bool resume)
        {
            // Each node's release is a file the commands switch; a node's revert fails, half run (its release
            // already switched back), while a flag file names it.
            string releases = Path.Combine(_cloud.Dir, "releases"), broken = Path.Combine(_cloud.Dir, "broken"), reverts = Path.Combine(_cloud.Dir, "reverts");
            Directory.CreateDirectory(releases);
            Directory.CreateDirectory(broken);
            string failing = _cloud.Nodes[1].Name;
            File.WriteAllText(Path.Combine(broken, failing), "");
            UpgradeSettings Settings() => new UpgradeSettings
            {
                Nodes = _cloud.Nodes,
                OpenDatabase = () => NbStoreFactory.Open(_database),
                TargetRelease = "queens",
                BackupFolder = _folder,
                Ssh = TestCloud.Connector(knownHosts: TestCloud.KnownHostsPath),
                UpdateCommand = $"echo queens > {ShellQuote.Quote(releases)}/{{node}}",
                RevertCommand = $"echo pike > {ShellQuote.Quote(releases)}/{{node}} && test ! -e {ShellQuote.Quote(broken)}/{{node}} && echo {{node}} >> {ShellQuote.Quote(reverts)}",
            };
            var after = new Recording("B", _log) { FailWith = new StepFailedException(null, "B broke") };
            var e = Assert.Throws<UpgradeFailedException>(() =>
                new UpgradeRun(Settings(), new List<IUpgradeStep> { UpgradeSteps.Default().Single(s => s.Name == UpgradeSteps.Update), after }).Run(_ => { }, null, CancellationToken.None));
            Assert.Contains("The rollback failed at Update", e.Message);
            Assert.Equal("pike", File.ReadAllText(Path.Combine(releases, _cloud.Nodes[0].Name)).Trim());
            Assert.Equal("pike", File.ReadAllText(Path.Combine(releases, failing)).Trim());   // half reverted
            var saved = UpgradeState.Load(_folder);
            // No node counts as updated: neither the one reverted nor the one whose revert may have half run;
            // the latter is still to be reverted by the rollback that goes on.
            Assert.Empty(saved.Updated);
            Assert.Equal(new[] { failing }, saved.UpdateAttempted);

            File.Delete(Path.Combine(broken, failing));   // the operator fixes the node
            var steps = new List<IUpgradeStep> { UpgradeSteps.Default().Single(s => s.Name == UpgradeSteps.Update), new Recording("B", _log) };
            var settings = Settings();
            settings.UpdateCommand = null;   // Resume and Undo-DfUpgrade use the recorded one
            // A resume goes on with the rollback, as an undo does: the upgrade is not carried on over a half-reverted node.
            var again = new UpgradeRun(settings, steps);
            if (resume) Assert.Equal("UpgradeRolledBack", Assert.Throws<UpgradeFailedException>(() => again.Resume(_ => { }, null, CancellationToken.None)).ErrorId);
            else Assert.Equal(UpgradeStatus.RolledBack, again.Undo(_ => { }, null, CancellationToken.None).Status);
            foreach (var node in _cloud.Nodes) Assert.Equal("pike", File.ReadAllText(Path.Combine(releases, node.Name)).Trim());
            Assert.Equal(_cloud.Nodes.Select(n => n.Name).OrderBy(n => n), File.ReadAllLines(reverts).OrderBy(n => n));
        }

        [Fact]
        public void Undo_of_an_update_attempted_without_a_revert_command_undoes_nothing_and_asks_for_one()
        {
            string releases = Path.Combine(_cloud.Dir, "releases");
            Directory.CreateDirectory(releases);
            UpgradeSettings Settings(string revert) => new UpgradeSettings
            {
                Nodes = _cloud.Nodes,
                OpenDatabase = () => NbStoreFactory.Open(_database),
                TargetRelease = "queens",
                BackupFolder = _folder,
                Ssh = TestCloud.Connector(knownHosts: TestCloud.KnownHostsPath),
                UpdateCommand = $"echo queens > {ShellQuote.Quote(releases)}/{{node}}; test {{node}} != {_cloud.Nodes[1].Name}",
                RevertCommand = revert,
                NoRollback = revert == null,
            };
            List<IUpgradeStep> Steps() => new List<IUpgradeStep> { new Recording("A", _log), UpgradeSteps.Default().Single(s => s.Name == UpgradeSteps.Update) };
            Assert.Throws<UpgradeFailedException>(() => new UpgradeRun(Settings(null), Steps()).Run(_ => { }, null, CancellationToken.None));
            _log.Clear();

            var settings = Settings(null);
            settings.UpdateCommand = null; // an undo is given no -UpdateCommand: the recorded one is used
            var e = Assert.Throws<UpgradeFailedException>(() => new UpgradeRun(settings, Steps()).Undo(_ => { }, null, CancellationToken.None));
            Assert.Contains("-RevertCommand", e.Message);
            Assert.Contains("nothing was undone", e.Message);
            Assert.Empty(_log); // the old control plane would have been started over the new code
            Assert.Equal(StepState.Done, UpgradeState.Load(_folder).Step("A").State);
            foreach (var node in _cloud.Nodes) Assert.Equal("queens", File.ReadAllText(Path.Combine(releases, node.Name)).Trim());

            settings = Settings($"echo pike > {ShellQuote.Quote(releases)}/{{node}}");
            settings.UpdateCommand = null;
            Assert.Equal(UpgradeStatus.RolledBack, new UpgradeRun(settings, Steps()).Undo(_ => { }, null, CancellationToken.None).Status);
            Assert.Equal(new[] { "undo A" }, _log);
            foreach (var node in _cloud.Nodes) Assert.Equal("pike", File.ReadAllText(Path.Combine(releases, node.Name)).Trim());
        }
    
        /// <summary>
        /// An upgrade stopped (-NoRollback) at B, whose state file then records the module's step
        /// <paramref name="real"/> between A and B as <paramref name="state"/>, as an upgrade with that
        /// step leaves it; returns the steps of such an upgrade (A, that step, B, C, D).
        /// </summary>
        IReadOnlyList<IUpgradeStep> StoppedWith(string real, StepState state, Action<UpgradeState> edit, NeutronDatabase neutron = null)
        {
            var (run, steps) = NewRun(noRollback: true, neutron: neutron);
            steps[1].FailWith = new InvalidOperationException("B broke");
            Assert.Throws<UpgradeFailedException>(() => Run(run));
            var recorded = UpgradeState.Load(_folder);
            recorded.Steps.Insert(1, new StepRecord { Name = real, State = state });
            if (state != StepState.Done) recorded.Step("B").State = StepState.Pending;
            edit(recorded);
            recorded.Save();
            _log.Clear();
            var (_, fresh) = NewRun();
            return new IUpgradeStep[] { fresh[0], UpgradeSteps.Default().Single(s => s.Name == real), fresh[1], fresh[2], fresh[3] };
        }

        [Theory]
        [InlineData(false)]
        [InlineData(true)]
        public void A_rollback_needs_the_NB_backup_only_once_the_NB_commit_started(bool started)
        {
            // The NB migration refused before writing (its backup is gone): nothing of the NB database to undo.
            var steps = StoppedWith(UpgradeSteps.NbMigration, StepState.Failed, s =>
            {
                s.NbBackupPath = Path.Combine(Path.GetFullPath(_folder), "nb-backup.jsonl.gz");
                s.NbBackupChecksum = new string('0', 64);
                s.NbMigrationStarted = started;
            });
            string before = NbContent();
            var undo = NewRun(realSteps: steps).Run;
            if (started)
            {
                var e = Assert.Throws<UpgradeFailedException>(() => undo.Undo(_ => { }, null, CancellationToken.None));
                Assert.Contains("nothing was undone", e.Message);
                Assert.Empty(_log);
            }
            else
            {
                Assert.Equal(UpgradeStatus.RolledBack, undo.Undo(_ => { }, null, CancellationToken.None).Status);
                Assert.Equal(new[] { "undo A" }, _log);
            }
            Assert.Equal(before, NbContent());
        }

        [Fact]
        public void The_rollbacks_restore_refuses_a_backup_of_another_database_and_writes_nothing()
        {
            string backup = Path.Combine(Path.GetFullPath(_folder), "nb-other.jsonl.gz");
            var steps = StoppedWith(UpgradeSteps.NbMigration, StepState.Failed, s =>
            {
                s.NbBackupPath = backup;
                s.NbBackupChecksum = Engine.Safety.NbBackup.Write(new FileNbStore(Path.Combine(TestCloud.RepoRoot, "tests", "fixtures", "queens-expected.jsonl")), backup).Checksum;
                s.NbMigrationStarted = true;
            });
            string before = NbContent();
            var e = Assert.Throws<UpgradeFailedException>(() => NewRun(realSteps: steps).Run.Undo(_ => { }, null, CancellationToken.None));
            Assert.Contains($"The rollback failed at {UpgradeSteps.NbMigration}", e.Message);
            Assert.Contains("was taken from", e.Message);
            Assert.Equal(before, NbContent());
            Assert.Equal(StepState.UndoFailed, UpgradeState.Load(_folder).Step(UpgradeSteps.NbMigration).State);
        }

        // Dragonflow's migrations, and one of the master release that moves compute-2 to another address.
        static Migrator MasterMigrator(INbStore store, bool withMove = true) =>
            new Migrator(store, new MigrationCatalog(DragonflowReleases.Migrations.Concat(withMove ? new[] { MoveCompute2 } : Array.Empty<Migration>()), DragonflowReleases.All),
                null, DragonflowReleases.Schema);

        static Migration MoveCompute2 => new Migration("move-compute-2", "master", "test: compute-2 gets another address", Migration.ParseUtc("2030-01-01T00:00:00Z").Value,
            null, null, "test:move-compute-2", nb =>
            {
                var chassis = nb.Get("chassis", "compute-2");
                chassis["ip"] = "192.168.100.99";
                nb.Update("chassis", chassis);
            });

        [Fact]
        public void The_NB_migration_of_a_database_at_master_writes_masters_keys_and_records_the_backup_it_committed_over()
        {
            // A Redis database at master: queens' objects under the keys master's driver writes ({table.topic}id), baselined.
            using (var store = NbStoreFactory.Open(_cloud.RedisUri))
            {
                store.Parts.UseKeyLayout(store.Parts.KeyLayoutAt("master"));
                store.Write(new FileNbStore(Path.Combine(TestCloud.RepoRoot, "tests", "fixtures", "queens-expected.jsonl")).Read().ToList());
                using (var plan = NbRun.PlanBaseline(store, MasterMigrator(store, withMove: false), "master", new GuardOptions("test", planOnly: false)))
                    plan.Execute();
            }
            var steps = UpgradeSteps.Default().Where(s => s.Name == UpgradeSteps.NbMigration).ToList();
            var results = new List<UpgradeStepResult>();
            var state = NewRun(database: _cloud.RedisUri, realSteps: steps, createMigrator: s => MasterMigrator(s), targetRelease: "master").Run.Run(results.Add, null, CancellationToken.None);

            Assert.Equal(UpgradeStatus.Completed, state.Status);
            Assert.StartsWith("applied 1 migration(s) (move-compute-2): chassis +0 ~1 -0",
                Assert.Single(results, r => r.Step == UpgradeSteps.NbMigration && r.Status == UpgradeStepStatus.Succeeded).Detail);
            var raw = _cloud.RawKeys().Where(k => !k.Key.StartsWith("{" + ModuleTables.Prefix, StringComparison.Ordinal)).ToDictionary(k => k.Key, k => k.Value);
            Assert.Contains("192.168.100.99", raw["{chassis.}compute-2"]);
            Assert.DoesNotContain(raw.Keys, k => k.Contains("}."));
            // The state records the backup the run committed over: what a rollback restores.
            using (var store = NbStoreFactory.Open(_cloud.RedisUri))
                Assert.Equal(state.NbBackupPath, Engine.Safety.CommitJournal.ReadLastRun(store).BackupPath);
        }

        [Fact]
        public void A_resume_after_the_NB_commit_finished_but_before_the_step_was_marked_done_marks_it_done_keeping_the_recorded_backup()
        {
            using (var store = NbStoreFactory.Open(_database))
            using (var plan = NbRun.PlanBaseline(store, MasterMigrator(store, withMove: false), "pike", new GuardOptions("test", planOnly: false)))
                plan.Execute();
            IReadOnlyList<IUpgradeStep> Steps() => UpgradeSteps.Default().Where(s => s.Name == UpgradeSteps.NbMigration).ToList();
            var run = NewRun(realSteps: Steps(), createMigrator: s => MasterMigrator(s, withMove: false)).Run;
            Assert.Equal(UpgradeStatus.Completed, Run(run).Status);
            string migrated = NbContent();

            // What a process killed after the commit, before the step was saved as done, leaves.
            var state = UpgradeState.Load(_folder);
            Assert.True(state.NbMigrationStarted);
            string backup = state.NbBackupPath, checksum = state.NbBackupChecksum;
            byte[] backupBytes = File.ReadAllBytes(backup);
            state.Status = UpgradeStatus.Running;
            state.Step(UpgradeSteps.NbMigration).State = StepState.Running;
            state.Save();
            var files = Directory.GetFiles(_folder, "*.jsonl*");

            var results = new List<UpgradeStepResult>();
            var resumed = NewRun(realSteps: Steps(), createMigrator: s => MasterMigrator(s, withMove: false)).Run.Resume(results.Add, null, CancellationToken.None);
            Assert.Equal(UpgradeStatus.Completed, resumed.Status);
            Assert.Equal(UpgradeStepStatus.Skipped, Assert.Single(results, r => r.Step == UpgradeSteps.NbMigration).Status);
            var saved = UpgradeState.Load(_folder);
            Assert.Equal(StepState.Done, saved.Step(UpgradeSteps.NbMigration).State);
            Assert.Equal(backup, saved.NbBackupPath);
            Assert.Equal(checksum, saved.NbBackupChecksum);
            Assert.Equal(backupBytes, File.ReadAllBytes(backup));
            Assert.Equal(files, Directory.GetFiles(_folder, "*.jsonl*"));   // no new backup beside it
            Assert.Equal(migrated, NbContent());
        }

        [Fact]
        public void A_resume_after_the_NB_migration_started_but_wrote_nothing_records_the_backup_it_commits_over_and_keeps_only_that_one()
        {
            using (var store = NbStoreFactory.Open(_database))
            using (var plan = NbRun.PlanBaseline(store, MasterMigrator(store, withMove: false), "pike", new GuardOptions("test", planOnly: false)))
                plan.Execute();
            // What a kill (or a journal that could not be stored) between recording the start and writing the commit marker
            // leaves: the migration recorded as started over the earlier run's backup, nothing of it written.
            string earlier = Path.Combine(Path.GetFullPath(_folder), "nb-earlier.jsonl.gz");
            var steps = StoppedWith(UpgradeSteps.NbMigration, StepState.Running, s =>
            {
                using (var store = NbStoreFactory.Open(_database)) s.NbBackupChecksum = Engine.Safety.NbBackup.Write(store, earlier).Checksum;
                s.NbBackupPath = earlier;
                s.NbMigrationStarted = true;
            });

            var resumed = NewRun(realSteps: steps, createMigrator: s => MasterMigrator(s, withMove: false)).Run.Resume(_ => { }, null, CancellationToken.None);
            Assert.Equal(UpgradeStatus.Completed, resumed.Status);
            var saved = UpgradeState.Load(_folder);
            Assert.NotEqual(earlier, saved.NbBackupPath);
            Engine.Safety.NbBackup.Verify(saved.NbBackupPath, saved.NbBackupChecksum);
            using (var store = NbStoreFactory.Open(_database))
                Assert.Equal(saved.NbBackupPath, Engine.Safety.CommitJournal.ReadLastRun(store).BackupPath);
            Assert.Equal(new[] { Path.GetFullPath(saved.NbBackupPath) },
                Directory.GetFiles(Path.GetFullPath(_folder), "*.jsonl.gz").Where(f => !f.Contains(".journal.")));
        }

        [Fact]
        public void A_state_file_of_an_earlier_version_with_a_step_backing_up_the_NB_database_resumes_without_it_and_keeps_one_backup()
        {
            using (var store = NbStoreFactory.Open(_database))
            using (var plan = NbRun.PlanBaseline(store, MasterMigrator(store, withMove: false), "pike", new GuardOptions("test", planOnly: false)))
                plan.Execute();
            // Earlier versions backed up the NB database in a step of its own, BackupNb, before Neutron's migration.
            string earlier = Path.Combine(Path.GetFullPath(_folder), "nb-earlier.jsonl.gz");
            var steps = StoppedWith(UpgradeSteps.NbMigration, StepState.Pending, s =>
            {
                using (var store = NbStoreFactory.Open(_database)) s.NbBackupChecksum = Engine.Safety.NbBackup.Write(store, earlier).Checksum;
                s.NbBackupPath = earlier;
                s.Steps.Insert(1, new StepRecord { Name = "BackupNb", State = StepState.Done });
            });
            Assert.Contains("\"BackupNb\"", File.ReadAllText(Path.Combine(_folder, UpgradeState.FileName)));

            var resumed = NewRun(realSteps: steps, createMigrator: s => MasterMigrator(s, withMove: false)).Run.Resume(_ => { }, null, CancellationToken.None);
            Assert.Equal(UpgradeStatus.Completed, resumed.Status);
            var saved = UpgradeState.Load(_folder);
            Assert.Equal(steps.Select(s => s.Name), saved.Steps.Select(s => s.Name));
            Assert.DoesNotContain("BackupNb", File.ReadAllText(saved.Path));
            // The migration's backup of what it read superseded the earlier one: it is recorded, and the only one left.
            Assert.NotEqual(earlier, saved.NbBackupPath);
            using (var store = NbStoreFactory.Open(_database))
                Assert.Equal(saved.NbBackupPath, Engine.Safety.CommitJournal.ReadLastRun(store).BackupPath);
            Assert.Equal(new[] { Path.GetFullPath(saved.NbBackupPath) },
                Directory.GetFiles(Path.GetFullPath(_folder), "*.jsonl.gz").Where(f => !f.Contains(".journal.")));
        }

        /// <summary>The NB objects of the test database, without the module's own records (the upgrade's record comes and goes).</summary>
        string NbContent()
        {
            using (var store = NbStoreFactory.Open(_database))
                return string.Join("\n", store.Read().Where(e => !ModuleTables.IsModuleTable(e.Key.Table))
                    .Select(e => e.Key + " " + Encoding.UTF8.GetString(e.Value.Span)).OrderBy(x => x, StringComparer.Ordinal));
        }

        [Fact]
        public void A_dump_replaced_together_with_its_checksum_file_is_refused_by_the_checksum_the_state_recorded_before_anything_is_undone()
        {
            var neutron = NeutronOf(@"{ ""Migrate"": ""MYSQL_PWD={password} neutron-db-manage upgrade heads"" }");
            string dump = Path.Combine(Path.GetFullPath(_folder), "neutron-node1.sql.gz");
            string made = NodeFiles.Sha256(Encoding.UTF8.GetBytes("the dump the upgrade made"));
            var steps = StoppedWith(UpgradeSteps.NeutronMigration, StepState.Done, s =>
            {
                s.NeutronBackupPath = dump;
                s.NeutronBackupChecksum = made;
                s.NeutronMigrationStarted = true;
            }, neutron);
            File.WriteAllText(dump, "another dump");
            File.WriteAllText(dump + ".sha256", NodeFiles.Sha256(Encoding.UTF8.GetBytes("another dump")) + "  neutron-node1.sql.gz\n");
            var e = Assert.Throws<UpgradeFailedException>(() => NewRun(neutron: neutron, realSteps: steps).Run.Undo(_ => { }, null, CancellationToken.None));
            Assert.Contains("recorded " + made, e.Message);
            Assert.Contains("nothing was undone", e.Message);
            Assert.Empty(_log);
        }

        [Theory]
        [InlineData("a backup outside the upgrade's folder")]
        [InlineData("a backup escaping the folder with ..")]
        [InlineData("a path that is not a configuration file of the node")]
        [InlineData("a node not in the inventory")]
        public void A_state_file_whose_configuration_change_points_elsewhere_is_refused_and_changes_nothing(string what)
        {
            var node = _cloud.Nodes[0];
            var record = new ConfigurationChangeRecord
            {
                Node = node.Name, Path = node.ConfigFiles[0],
                Backup = Path.Combine(Path.GetFullPath(_folder), "configuration", node.Name, "dragonflow.ini"),
                OriginalSha256 = new string('0', 64), WrittenSha256 = new string('1', 64),
            };
            if (what.Contains("outside")) record.Backup = Path.Combine(_cloud.Dir, "dragonflow.ini");
            else if (what.Contains("escaping")) record.Backup = Path.Combine(Path.GetFullPath(_folder), "configuration", "..", "..", "dragonflow.ini");
            else if (what.Contains("path")) record.Path = "/root/.ssh/authorized_keys";
            else record.Node = "node-elsewhere";
            var steps = StoppedWith(UpgradeSteps.Configuration, StepState.Done, s => s.ConfigurationChanges.Add(record));
            string before = File.ReadAllText(UpgradeState.PathIn(_folder));
            foreach (var undo in new[] { false, true })
            {
                var again = NewRun(realSteps: steps).Run;
                var e = Assert.Throws<DfException>(() => { if (undo) again.Undo(_ => { }, null, CancellationToken.None); else again.Resume(_ => { }, null, CancellationToken.None); });
                Assert.Equal("UpgradeStateInvalid", e.ErrorId);
                Assert.Contains(what.Contains("backup") ? "not under the upgrade's" : "not a configuration file of that node", e.Message);
            }
            Assert.True(_log.Count == 0, what + ": " + string.Join(", ", _log));
            Assert.Equal(before, File.ReadAllText(UpgradeState.PathIn(_folder)));
        }

        [Fact]
        public void A_damaged_configuration_backup_stops_the_rollback_before_anything_is_undone()
        {
            var node = _cloud.Nodes[0];
            string backup = Path.Combine(Path.GetFullPath(_folder), "configuration", node.Name, "dragonflow.ini");
            var steps = StoppedWith(UpgradeSteps.Configuration, StepState.Done, s => s.ConfigurationChanges.Add(new ConfigurationChangeRecord
            {
                Node = node.Name, Path = node.ConfigFiles[0], Backup = backup, NodeBackup = node.ConfigFiles[0] + ".df-upgrade",
                OriginalSha256 = NodeFiles.Sha256(Encoding.UTF8.GetBytes("[df]\nenable_df_pub_sub = True\n")), WrittenSha256 = new string('1', 64),
            }));
            Directory.CreateDirectory(Path.GetDirectoryName(backup));
            File.WriteAllText(backup, "[df]\nenable_df_pub_sub = False\n");
            var e = Assert.Throws<UpgradeFailedException>(() => NewRun(realSteps: steps).Run.Undo(_ => { }, null, CancellationToken.None));
            Assert.Contains("is not the file that was read", e.Message);
            Assert.Contains("nothing was undone", e.Message);
            Assert.Empty(_log);
        }

        [Fact]
        public void A_state_file_that_cannot_be_written_at_the_start_stops_the_upgrade_before_any_step_and_leaves_the_database_unmarked()
        {
            File.WriteAllText(_folder, "a file where the backup folder goes");
            var (run, _) = NewRun();
            var e = Assert.Throws<DfException>(() => Run(run));
            Assert.Equal("UpgradeStateUnwritable", e.ErrorId);
            Assert.Contains("Nothing was stopped or changed", e.Message);
            Assert.Empty(_log);
            using (var store = NbStoreFactory.Open(_database))
            {
                Assert.Null(Engine.Safety.UpgradeUnderWay.Read(store));
                Assert.Null(Engine.Safety.UpgradeLock.Read(store));
            }
        }

        [Fact]
        public void A_state_file_that_cannot_be_written_mid_upgrade_stops_it_saying_where_and_how_to_go_on_and_Undo_then_rolls_it_back()
        {
            var (run, steps) = NewRun();
            string temp = UpgradeState.PathIn(_folder) + ".tmp";
            steps[1].OnDo = () => Directory.CreateDirectory(temp); // the next write of the state fails, as on a full or read-only disk
            var e = Assert.Throws<DfException>(() => Run(run));
            Assert.Equal("UpgradeStateUnwritable", e.ErrorId);
            Assert.Contains("stopped at step B", e.Message);
            Assert.Contains("Invoke-DfUpgrade -Resume", e.RecommendedAction);
            Assert.Equal(new[] { "do A", "do B" }, _log);
            Assert.Equal(StepState.Running, UpgradeState.Load(_folder).Step("B").State);

            Directory.Delete(temp);
            _log.Clear();
            Assert.Equal(UpgradeStatus.RolledBack, NewRun().Run.Undo(_ => { }, null, CancellationToken.None).Status);
            Assert.Equal(new[] { "undo B", "undo A" }, _log);
        }
    }
}
