using System;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Threading;
using DragonflowUpgrade.Engine.Json;
using DragonflowUpgrade.Engine.Migrations;
using DragonflowUpgrade.Engine.Run;
using DragonflowUpgrade.Engine.Safety;
using DragonflowUpgrade.Engine.Store;
using Xunit;

namespace DragonflowUpgrade.Engine.Tests
{
    /// <summary>Every operation that writes the NB database passes one guard: the lock, no interrupted commit, no live control plane.</summary>
    [Collection(SafetyCollection.Name)]
    public class SafetyRunGuardTests
    {
        static Migration Bump(string id, string release, string proposedAt) =>
            new Migration(id, release, "test " + id, Migration.ParseUtc(proposedAt).Value, null, null, "test:" + id, nb =>
            {
                foreach (var port in nb.GetAll("lport").ToList())
                {
                    port["version"] = (long)port["version"] + 1;
                    nb.Update("lport", port);
                }
            });

        static Migrator MigratorOf(INbStore store) => new Migrator(store, new MigrationCatalog(new[]
        {
            Bump("pike-bump", "pike", "2017-03-01T00:00:00Z"),
            Bump("queens-bump", "queens", "2017-09-01T00:00:00Z"),
        }));

        static GuardOptions Guard(bool ignoreLiveControlPlane = false, bool planOnly = false, bool force = false) =>
            new GuardOptions("test", planOnly, force, ignoreLiveControlPlane: ignoreLiveControlPlane);

        static NbEntry LiveService() =>
            new NbEntry(new NbKey("service", null, "compute-1df-local-controller"), Safe.Json(
                "{\"id\": \"compute-1df-local-controller\", \"chassis\": \"compute-1\", \"binary\": \"df-local-controller\", \"last_seen_up\": " +
                (DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0 - 5).ToString("R", CultureInfo.InvariantCulture) + "}"));

        /// <summary>A database in the state the operation works on, with a live Dragonflow service in it.</summary>
        static string Database(string operation, out string backupPath)
        {
            string uri = Safe.NewRedis(Safe.Ports(30));
            backupPath = Safe.TempFile("backup.jsonl.gz");
            using (var store = NbStoreFactory.Open(uri))
            {
                if (operation == "restore") NbBackup.Write(store, backupPath);
                if (operation == "undo")
                    using (var run = NbRun.PlanMigration(store, MigratorOf(store), new MigrationRunRequest { BackupPath = backupPath }, Guard()))
                        run.Execute();
                if (operation == "resume")
                {
                    // A commit stopped before its first batch, as a killed process leaves it.
                    var result = MigratorOf(store).Run(MigratorOf(store).Plan().Pending);
                    var backup = NbBackup.Write(result.Before, store.Location, backupPath);
                    // The journal (the row naming it, its rows) and the marker go through; the first batch of data fails.
                    using (var stepped = new SteppedStore(NbStoreFactory.Open(uri), writesBeforeFailure: 3))
                        Assert.Throws<CommitInterruptedException>(() => CommitJournal.Commit(stepped, result.Writes, backup, new[] { "pike-bump", "queens-bump" }, result.Expected));
                }
                store.Write(new[] { LiveService() });
            }
            return uri;
        }

        static WritePlan Plan(string operation, INbStore store, string backupPath, GuardOptions guard)
        {
            switch (operation)
            {
                case "migrate": return NbRun.PlanMigration(store, MigratorOf(store), new MigrationRunRequest { BackupPath = backupPath }, guard);
                case "baseline": return NbRun.PlanBaseline(store, MigratorOf(store), "pike", guard);
                case "restore": return NbRun.PlanRestore(store, backupPath, guard);
                case "resume": return NbRun.PlanResume(store, guard);
                case "undo": return NbRun.PlanUndo(store, guard);
                default: throw new ArgumentOutOfRangeException(nameof(operation));
            }
        }

        static void Execute(WritePlan plan)
        {
            switch (plan)
            {
                case MigrationRunPlan p: p.Execute(); break;
                case BaselinePlan p: p.Execute(); break;
                case RestoreRunPlan p: p.Execute(); break;
                case ResumePlan p: p.Execute(); break;
                case UndoRunPlan p: p.Execute(); break;
            }
        }

        public static TheoryData<string> Operations => new TheoryData<string> { "migrate", "baseline", "restore", "resume", "undo" };

        [Theory]
        [MemberData(nameof(Operations))]
        public void Every_writing_operation_refuses_a_live_control_plane_naming_it_and_writes_nothing(string operation)
        {
            string uri = Database(operation, out string backupPath);
            var before = Safe.Dump(uri);
            using (var store = NbStoreFactory.Open(uri))
            {
                var e = Assert.Throws<ControlPlaneAliveException>(() => Plan(operation, store, backupPath, Guard()));
                Assert.Contains("df-local-controller on compute-1", e.Message);
                Assert.Contains("run test with -IgnoreLiveControlPlane", e.Message);
                Assert.Null(UpgradeLock.Read(store));
            }
            Assert.Equal(before, Safe.Dump(uri));
        }

        [Fact]
        public void A_held_lock_of_another_database_is_refused_and_nothing_is_written()
        {
            string other = Database("migrate", out _), uri = Database("migrate", out string backupPath);
            var before = Safe.Dump(uri);
            using (var held = NbStoreFactory.Open(other))
            using (var store = NbStoreFactory.Open(uri))
            using (var lockOfOther = UpgradeLock.Acquire(held, "test"))
            {
                var guard = new GuardOptions("test", planOnly: false, ignoreLiveControlPlane: true, heldLock: lockOfOther);
                var e = Assert.Throws<InvalidOperationException>(() => Plan("migrate", store, backupPath, guard));
                Assert.Contains(UpgradeLock.Where(store), e.Message);
                Assert.Null(UpgradeLock.Read(store));
            }
            Assert.Equal(before, Safe.Dump(uri));
        }

        [Fact]
        public void A_refusal_for_a_caller_without_IgnoreLiveControlPlane_advises_stopping_the_control_plane_and_running_again()
        {
            string uri = Database("migrate", out string backupPath);
            var guard = new GuardOptions("Invoke-DfUpgrade", planOnly: false, canIgnoreLiveControlPlane: false);
            using (var store = NbStoreFactory.Open(uri))
            {
                var alive = Assert.Throws<ControlPlaneAliveException>(() => Plan("migrate", store, backupPath, guard));
                Assert.Contains("df-local-controller on compute-1", alive.Message);
                Assert.DoesNotContain("-IgnoreLiveControlPlane", alive.Message + alive.RecommendedAction);
                Assert.Equal("Stop the control plane (Stop-DfControlPlane) and keep it stopped, then run again.", alive.RecommendedAction);

                // A heartbeat whose time cannot be read is refused with the same advice.
                store.Write(new[] { new NbEntry(LiveService().Key, Safe.Json("{\"id\": \"compute-1df-local-controller\", \"last_seen_up\": \"soon\"}")) });
                var unreadable = Assert.Throws<HeartbeatInvalidException>(() => Plan("migrate", store, backupPath, guard));
                Assert.DoesNotContain("-IgnoreLiveControlPlane", unreadable.Message + unreadable.RecommendedAction);
                Assert.EndsWith(", then run again.", unreadable.RecommendedAction);
                Assert.Null(UpgradeLock.Read(store));
            }
        }

        [Theory]
        [MemberData(nameof(Operations))]
        public void An_operations_own_force_does_not_get_past_a_live_control_plane(string operation)
        {
            string uri = Database(operation, out string backupPath);
            var before = Safe.Dump(uri);
            using (var store = NbStoreFactory.Open(uri))
            {
                var e = Assert.Throws<ControlPlaneAliveException>(() => Plan(operation, store, backupPath, Guard(force: true)));
                Assert.Contains("-IgnoreLiveControlPlane", e.Message);
                Assert.Null(UpgradeLock.Read(store));
            }
            Assert.Equal(before, Safe.Dump(uri));
        }

        [Fact]
        public void A_migration_run_reads_the_database_once_checking_the_heartbeats_in_its_snapshot_and_reading_only_the_modules_records_besides()
        {
            string uri = Safe.NewRedis(Safe.Ports(30));
            using (var store = new SteppedStore(NbStoreFactory.Open(uri)))
            {
                using (var run = NbRun.PlanMigration(store, MigratorOf(store), new MigrationRunRequest { BackupPath = Safe.TempFile("backup.jsonl.gz") }, Guard()))
                    run.Execute();
                Assert.Equal(1, store.TablesRead.Count(t => t == null));
                Assert.All(store.TablesRead.Where(t => t != null), t => Assert.True(t == MigrationLog.Table || ModuleTables.IsModuleTable(t), $"read table {t}"));
            }
        }

        [Fact]
        public void On_Redis_the_interrupted_commit_check_the_upgrade_under_way_check_and_the_log_read_send_no_scan()
        {
            string uri = Database("undo", out _);
            using (var store = NbStoreFactory.Open(uri))
            {
                CommitRecord lastRun = null;
                var sent = TestRedis.CommandsSent(uri, () => { lastRun = CommitJournal.ReadLastRun(store); CommitJournal.RequireNoneInProgress(store); UpgradeUnderWay.Read(store); MigrationLog.Read(store); });
                Assert.NotNull(lastRun);
                Assert.DoesNotContain("SCAN", sent);
                Assert.Contains("MGET", sent);
            }
        }

        [Fact]
        public void A_live_service_in_the_snapshot_refuses_the_run_before_any_migration_and_a_forced_run_warns_of_it()
        {
            string uri = Database("migrate", out string backupPath);
            var before = Safe.Dump(uri);
            using (var store = NbStoreFactory.Open(uri))
            {
                bool migrated = false;
                var migrator = new Migrator(store, new MigrationCatalog(new[]
                {
                    new Migration("touch", "pike", "test touch", Migration.ParseUtc("2017-03-01T00:00:00Z").Value, null, null, "test:touch", nb => migrated = true),
                }));
                var e = Assert.Throws<ControlPlaneAliveException>(() => NbRun.PlanMigration(store, migrator, new MigrationRunRequest { BackupPath = backupPath }, Guard()));
                Assert.Contains("df-local-controller on compute-1", e.Message);
                Assert.False(migrated);
                Assert.Null(UpgradeLock.Read(store));
                using (var plan = NbRun.PlanMigration(store, migrator, new MigrationRunRequest { BackupPath = backupPath }, Guard(ignoreLiveControlPlane: true)))
                    Assert.Contains(plan.Warnings, w => w.StartsWith("-IgnoreLiveControlPlane: migrating while the control plane still runs: service df-local-controller on compute-1"));
            }
            Assert.Equal(before, Safe.Dump(uri));
        }

        [Fact]
        public void A_runs_backup_is_written_while_its_migrations_run_and_is_complete_before_the_first_write()
        {
            string uri = Safe.NewRedis(Safe.Ports(30));
            string backupPath = Safe.TempFile("backup.jsonl.gz");
            bool backupDuringMigration = false;
            using (var store = NbStoreFactory.Open(uri))
            {
                var before = Safe.Dump(store);
                var migrator = new Migrator(store, new MigrationCatalog(new[]
                {
                    new Migration("wait-for-backup", "pike", "test wait-for-backup", Migration.ParseUtc("2017-03-01T00:00:00Z").Value, null, null, "test:wait-for-backup",
                        nb => backupDuringMigration = SpinWait.SpinUntil(() => File.Exists(backupPath), TimeSpan.FromSeconds(60))),
                }));
                using (var run = NbRun.PlanMigration(store, migrator, new MigrationRunRequest { BackupPath = backupPath }, Guard()))
                    Assert.Equal(backupPath, run.Execute().Backup.Path);
                Assert.True(backupDuringMigration, "the backup file appeared while the migration ran");
                using (var backup = NbStoreFactory.Open(backupPath)) Assert.Equal(before, Safe.Dump(backup));
            }
        }

        [Fact]
        public void A_run_that_fails_or_is_never_executed_leaves_no_backup_behind()
        {
            string uri = Safe.NewRedis(Safe.Ports(30));
            string folder = Path.GetDirectoryName(Safe.TempFile("backup.jsonl.gz"));
            using (var store = NbStoreFactory.Open(uri))
            {
                var before = Safe.Dump(store);
                string failing = Path.Combine(folder, "failing.jsonl.gz");
                var broken = new Migrator(store, new MigrationCatalog(new[]
                {
                    new Migration("broken", "pike", "test broken", Migration.ParseUtc("2017-03-01T00:00:00Z").Value, null, null, "test:broken",
                        nb => throw new InvalidOperationException("broken on purpose")),
                }));
                Assert.Throws<MigrationFailedException>(() => NbRun.PlanMigration(store, broken, new MigrationRunRequest { BackupPath = failing }, Guard()));
                Assert.False(File.Exists(failing), "a failed run's backup is removed");

                string declined = Path.Combine(folder, "declined.jsonl.gz");
                using (var plan = NbRun.PlanMigration(store, MigratorOf(store), new MigrationRunRequest { BackupPath = declined }, Guard()))
                    Assert.False(plan.IsEmpty);
                Assert.False(File.Exists(declined), "the backup of a plan never executed is removed");
                Assert.Equal(before, Safe.Dump(store));
                Assert.Empty(Directory.GetFiles(folder));
            }
        }

        [Fact]
        public void A_migration_run_with_nothing_pending_has_nothing_to_do_even_while_another_host_holds_the_lock_and_the_control_plane_runs()
        {
            string uri = Safe.NewRedis(Safe.Ports(30));
            using (var store = NbStoreFactory.Open(uri))
            {
                using (var run = NbRun.PlanMigration(store, MigratorOf(store), new MigrationRunRequest { BackupPath = Safe.TempFile("backup.jsonl.gz") }, Guard()))
                    run.Execute();
                var otherRun = "{\"host\": \"controller-2\", \"pid\": 4242, \"user\": \"someone\", \"purpose\": \"Invoke-DfMigration\", " +
                    $"\"started_at\": \"{DateTimeOffset.UtcNow.AddMinutes(-1):o}\", \"expires_at\": \"{DateTimeOffset.UtcNow.AddHours(1):o}\", \"token\": \"{Guid.NewGuid():N}\"}}";
                store.Write(new[] { LiveService(), new NbEntry(new NbKey("df_upgrade_lock", null, "lock"), Safe.Json(otherRun)) });
                Assert.Equal("controller-2", UpgradeLock.Read(store).Host);
                var before = Safe.Dump(uri);

                using (var plan = NbRun.PlanMigration(store, MigratorOf(store), new MigrationRunRequest(), Guard()))
                {
                    Assert.True(plan.IsEmpty);
                    Assert.Empty(plan.Migrations);
                    Assert.Empty(plan.Warnings);
                    Assert.Empty(plan.Execute().Applied);
                }
                Assert.Equal("controller-2", UpgradeLock.Read(store).Host);
                Assert.Equal(before, Safe.Dump(uri));
            }
        }

        [Theory]
        [MemberData(nameof(Operations))]
        public void Every_writing_operation_goes_ahead_when_forced_warning_of_what_runs(string operation)
        {
            string uri = Database(operation, out string backupPath);
            var before = Safe.Dump(uri);
            using (var store = NbStoreFactory.Open(uri))
            {
                using (var plan = Plan(operation, store, backupPath, Guard(ignoreLiveControlPlane: true)))
                {
                    Assert.Contains(plan.Warnings, w => w.StartsWith("-IgnoreLiveControlPlane: ") && w.Contains("df-local-controller on compute-1"));
                    Assert.NotNull(UpgradeLock.Read(store));
                    Execute(plan);
                }
                Assert.Null(UpgradeLock.Read(store));
            }
            Assert.NotEqual(before, Safe.Dump(uri));
        }

        [Theory]
        [MemberData(nameof(Operations))]
        public void A_plan_holds_the_lock_until_disposed_and_a_second_operation_is_refused_meanwhile(string operation)
        {
            string uri = Database(operation, out string backupPath);
            using (var store = NbStoreFactory.Open(uri))
            {
                using (Plan(operation, store, backupPath, Guard(ignoreLiveControlPlane: true)))
                {
                    var e = Assert.Throws<UpgradeLockedException>(() => NbRun.PlanBaseline(store, MigratorOf(store), "pike", Guard(ignoreLiveControlPlane: true)));
                    Assert.Contains("test", e.Message);
                }
                Assert.Null(UpgradeLock.Read(store));
            }
        }

        [Theory]
        [MemberData(nameof(Operations))]
        public void A_plan_only_takes_no_lock_warns_of_a_live_control_plane_and_cannot_be_executed(string operation)
        {
            string uri = Database(operation, out string backupPath);
            var before = Safe.Dump(uri);
            using (var store = NbStoreFactory.Open(uri))
            using (var plan = Plan(operation, store, backupPath, Guard(planOnly: true)))
            {
                Assert.Null(UpgradeLock.Read(store));
                Assert.Contains(plan.Warnings, w => w.StartsWith("The control plane still runs: ") && w.Contains("df-local-controller on compute-1"));
                Assert.False(string.IsNullOrEmpty(plan.Summary));
                Assert.Throws<InvalidOperationException>(() => Execute(plan));
            }
            Assert.Equal(before, Safe.Dump(uri));
        }

        // A commit killed after it wrote the migration log's rows, before it wrote its record and removed its
        // marker: nothing is pending, and the commit still waits for Resume-DfMigration or Undo-DfMigration.
        // (The check is the run's, above the stores: a server's store and the file's, where the marker is a line.)
        [Theory]
        [InlineData("redis")]
        [InlineData("file")]
        public void A_run_with_nothing_pending_is_refused_while_a_commit_is_interrupted(string kind)
        {
            int? logWrite = null;
            foreach (bool killed in new[] { false, true })
            {
                string uri = Safe.NewDatabase(kind, Safe.Ports(30));
                using (var store = NbStoreFactory.Open(uri))
                {
                    var result = MigratorOf(store).Run(MigratorOf(store).Plan().Pending);
                    var backup = NbBackup.Write(result.Before, store.Location, Safe.TempFile("backup.jsonl.gz"));
                    var ids = new[] { "pike-bump", "queens-bump" };
                    if (!killed)
                    {
                        // Where the log's rows go, in a commit that is not killed.
                        using (var counted = new SteppedStore(NbStoreFactory.Open(uri)))
                        {
                            CommitJournal.Commit(counted, result.Writes, backup, ids, result.Expected);
                            logWrite = counted.TablesWritten.FindIndex(t => t.Contains(MigrationLog.Table));
                            Assert.True(logWrite >= 0 && logWrite < counted.Writes - 1, "the log's rows are not written before the commit's last write");
                        }
                        continue;
                    }
                    using (var stepped = new SteppedStore(NbStoreFactory.Open(uri), writesBeforeFailure: logWrite.Value + 1))
                        Assert.Throws<CommitInterruptedException>(() => CommitJournal.Commit(stepped, result.Writes, backup, ids, result.Expected));
                    Assert.Empty(MigratorOf(store).Plan().Pending);
                    var e = Assert.Throws<CommitInProgressException>(() => NbRun.PlanMigration(store, MigratorOf(store), new MigrationRunRequest(), Guard()));
                    Assert.Contains("Resume-DfMigration", e.RecommendedAction);
                    // A run still committing (its lock held) is named as such, not as one that did not finish.
                    using (UpgradeLock.Acquire(store, "another run committing"))
                        Assert.Contains("another run committing", Assert.Throws<UpgradeLockedException>(
                            () => NbRun.PlanMigration(store, MigratorOf(store), new MigrationRunRequest(), Guard())).Message);
                }
            }
        }

        [Fact]
        public void A_baseline_is_refused_while_a_commit_is_interrupted()
        {
            string uri = Database("resume", out _);
            using (var store = NbStoreFactory.Open(uri))
                Assert.Throws<CommitInProgressException>(() => NbRun.PlanBaseline(store, MigratorOf(store), "pike", Guard(ignoreLiveControlPlane: true)));
        }

        [Fact]
        public void A_migration_plan_counts_the_writes_per_table_and_executes_exactly_them_with_a_backup_first()
        {
            string uri = Safe.NewRedis(Safe.Ports(30));
            string backupPath = Safe.TempFile("run.jsonl.gz");
            var before = Safe.Dump(uri);
            using (var store = NbStoreFactory.Open(uri))
            using (var plan = NbRun.PlanMigration(store, MigratorOf(store), new MigrationRunRequest { TargetRelease = "pike", BackupPath = backupPath }, Guard()))
            {
                Assert.Equal(new[] { "pike-bump" }, plan.Migrations.Select(m => m.Id));
                Assert.Equal(30, plan.Changes.Single(c => c.Table == "lport").Updates);
                Assert.Contains("lport +0 ~30 -0", plan.Summary);
                var outcome = plan.Execute();
                Assert.Equal(backupPath, outcome.Backup.Path);
                Assert.Equal(30 + 1, outcome.Commit.Puts);
            }
            // The backup holds the database as the plan read it.
            using (var backup = NbStoreFactory.Open(backupPath)) Assert.Equal(before, Safe.Dump(backup));
        }

        [Fact]
        public void An_unknown_target_release_is_refused_as_an_unknown_release_naming_it()
        {
            string uri = Safe.NewRedis(Safe.Ports(3));
            using (var store = NbStoreFactory.Open(uri))
            {
                var e = Assert.Throws<Errors.DfException>(() =>
                    NbRun.PlanMigration(store, MigratorOf(store), new MigrationRunRequest { TargetRelease = "rocky" }, Guard(planOnly: true)));
                Assert.Equal("ReleaseUnknown", e.ErrorId);
                Assert.Contains("rocky", e.Message);
            }
        }

        [Fact]
        public void The_recorded_release_is_the_schema_row_else_the_baseline_and_a_backup_header_says_the_same()
        {
            var schema = new MigrationLogEntry { Id = MigrationLog.SchemaId, Kind = MigrationLogKind.Schema, Release = "queens", AppliedAt = DateTimeOffset.Parse("2018-01-01T00:00:00Z") };
            var baseline = new MigrationLogEntry { Id = MigrationLog.BaselineId, Kind = MigrationLogKind.Baseline, Release = "pike", AppliedAt = DateTimeOffset.Parse("2019-01-01T00:00:00Z") };
            Assert.Null(MigrationLog.RecordedRelease(Array.Empty<MigrationLogEntry>()));
            Assert.Equal("pike", MigrationLog.RecordedRelease(new[] { baseline }));
            Assert.Equal("queens", MigrationLog.RecordedRelease(new[] { baseline, schema }));

            string uri = Safe.NewRedis(Safe.Ports(3).Concat(new[] { schema.ToEntry(), baseline.ToEntry() }).ToList());
            using (var store = NbStoreFactory.Open(uri))
                Assert.Equal(MigrationLog.RecordedRelease(MigrationLog.Read(store)), NbBackup.Write(store, Safe.TempFile("b.jsonl.gz")).SchemaRelease);
        }
    }
}
