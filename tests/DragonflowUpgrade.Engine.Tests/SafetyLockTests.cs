using System;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using DragonflowUpgrade.Engine.Safety;
using DragonflowUpgrade.Engine.Store;
using StackExchange.Redis;
using Xunit;

namespace DragonflowUpgrade.Engine.Tests
{
    [Collection(SafetyCollection.Name)]
    public class UpgradeLockTests
    {
        const string LockKey = "{df_upgrade_lock.}.lock";

        static IDatabase Db(ConnectionMultiplexer mux, string uri) => mux.GetDatabase(TestRedis.DbOf(uri));

        // The cases below run on every store: each keeps its lock in a slot of its own (Redis key, etcd
        // lease, file beside the database), written here through that slot as another holder would.
        static INbStore NewStore(string kind) => NbStoreFactory.Open(Safe.NewDatabase(kind, Array.Empty<NbEntry>()));

        static ILockSlot Slot(INbStore store) => store.Parts.LockSlot(new NbKey(UpgradeLock.Table, null, UpgradeLock.Id));

        static void Plant(INbStore store, string json) => Assert.True(Slot(store).TryCreate(json, TimeSpan.FromHours(1)), "the slot held a lock already");

        static string LockJson(string host, int pid, TimeSpan expiresIn) =>
            JsonSerializer.Serialize(new
            {
                host,
                pid,
                user = "someone",
                purpose = "Invoke-DfMigration",
                started_at = DateTimeOffset.UtcNow.AddMinutes(-1).ToString("o"),
                expires_at = DateTimeOffset.UtcNow.Add(expiresIn).ToString("o"),
                token = Guid.NewGuid().ToString("N"),
            });

        [Fact]
        public void The_lock_is_one_key_in_dragonflows_layout_with_owner_and_expiry()
        {
            string uri = TestRedis.NewDatabase();
            using (var mux = TestRedis.Connect())
            using (var store = NbStoreFactory.Open(uri))
            using (UpgradeLock.Acquire(store, "Invoke-DfMigration"))
            {
                string value = Db(mux, uri).StringGet(LockKey);
                using (var doc = JsonDocument.Parse(value))
                {
                    var r = doc.RootElement;
                    Assert.Equal(Environment.MachineName, r.GetProperty("host").GetString());
                    Assert.Equal(Process.GetCurrentProcess().Id, r.GetProperty("pid").GetInt32());
                    Assert.Equal("Invoke-DfMigration", r.GetProperty("purpose").GetString());
                    Assert.True(DateTimeOffset.Parse(r.GetProperty("expires_at").GetString()) > DateTimeOffset.Parse(r.GetProperty("started_at").GetString()));
                }
                var ttl = Db(mux, uri).KeyTimeToLive(LockKey);
                Assert.InRange(ttl.Value, TimeSpan.FromSeconds(60), UpgradeLock.RunTtl);
            }
        }

        [Theory]
        [MemberData(nameof(Safe.Stores), MemberType = typeof(Safe))]
        public void A_second_run_is_refused_and_told_who_holds_the_lock(string store) => Safe.SecondRunIsRefused(Safe.NewDatabase(store, Safe.Ports(1)));

        [Theory]
        [MemberData(nameof(Safe.Stores), MemberType = typeof(Safe))]
        public void Releasing_the_lock_lets_the_next_run_take_it(string kind)
        {
            using (var store = NewStore(kind))
            {
                UpgradeLock.Acquire(store, "first").Dispose();
                Assert.Null(Slot(store).Read());
                using (var second = UpgradeLock.Acquire(store, "second"))
                    Assert.Equal("second", UpgradeLock.Read(store).Purpose);
            }
        }

        [Theory]
        [MemberData(nameof(Safe.Stores), MemberType = typeof(Safe))]
        public void A_lock_whose_process_is_gone_is_taken_over(string kind)
        {
            int deadPid;
            using (var p = Process.Start(new ProcessStartInfo("true") { UseShellExecute = false }))
            {
                p.WaitForExit();
                deadPid = p.Id;
            }
            using (var store = NewStore(kind))
            {
                Plant(store, LockJson(Environment.MachineName, deadPid, TimeSpan.FromHours(1)));
                Assert.True(UpgradeLock.Read(store).OwnerGone);
                using (var l = UpgradeLock.Acquire(store, "Resume-DfMigration"))
                    Assert.Equal(Process.GetCurrentProcess().Id, UpgradeLock.Read(store).ProcessId);
            }
        }

        [Theory]
        [MemberData(nameof(Safe.Stores), MemberType = typeof(Safe))]
        public void A_lock_held_on_another_host_is_refused_until_forced(string kind)
        {
            using (var store = NewStore(kind))
            {
                Plant(store, LockJson("controller-2", 4242, TimeSpan.FromHours(1)));
                var e = Assert.Throws<UpgradeLockedException>(() => UpgradeLock.Acquire(store, "Invoke-DfMigration"));
                Assert.Contains("process 4242", e.Message);
                Assert.Contains("controller-2", e.Message);
                Assert.Contains("Unlock-DfNbDatabase -Force", e.Message);
                Assert.Throws<UpgradeLockedException>(() => UpgradeLock.Unlock(store, force: false));
                Assert.Equal("controller-2", UpgradeLock.Unlock(store, force: true).Host);
                Assert.Null(Slot(store).Read());
            }
        }

        // A case that waits on the clock (seconds a store), not on the machine, run on every store at once: a
        // theory per store took five times as long. Each store's waiting loop has a thread of its own, leaving
        // the pool's threads to the Redis and etcd clients, and a database of its own. A failure names its store.
        static void OnEveryStoreAtOnce(Action<string> run)
        {
            var kinds = Safe.Stores.Cast<object[]>().Select(row => (string)row[0]).ToList();
            var runs = kinds.Select(kind => Task.Factory.StartNew(() => run(kind), CancellationToken.None,
                TaskCreationOptions.LongRunning, TaskScheduler.Default)).ToArray();
            try { Task.WaitAll(runs); }
            catch (AggregateException) { }
            Assert.Empty(kinds.Zip(runs, (kind, task) => task.IsFaulted ? $"{kind}: {task.Exception.InnerException}" : null).Where(f => f != null));
        }

        [Fact]
        public void The_heartbeat_keeps_a_running_lock_from_expiring_on_every_store() => OnEveryStoreAtOnce(HeartbeatKeepsLock);

        static void HeartbeatKeepsLock(string kind)
        {
            using (var store = NewStore(kind))
            {
                // Renewed: its expiry moves on, and neither the record nor the store's own slot (a Redis key's
                // time to live, an etcd lease of whole seconds, ended at most half a second late) lapses, until a
                // second past the expiry it was taken with.
                // Eight seconds: a beat every 2 s, and room for a few late ones on a loaded machine (with
                // five, a three-member etcd cluster under a full parallel test run once let it lapse).
                var ttl = TimeSpan.FromSeconds(8);
                using (UpgradeLock.Take(store, "beating", ttl, heartbeat: true))
                {
                    var last = UpgradeLock.Read(store).ExpiresAt;
                    var outlived = last + TimeSpan.FromSeconds(1);
                    int renewals = 0;
                    Safe.WaitUntil(() =>
                    {
                        var now = UpgradeLock.Read(store);
                        Assert.True(now != null && Slot(store).Read() != null, "the beating lock lapsed");
                        if (now.ExpiresAt > last) renewals++;
                        last = now.ExpiresAt;
                        return renewals >= 3 && DateTimeOffset.UtcNow > outlived;
                    }, "three renewals of the lock, and a second past its first expiry");
                }
                // Not renewed: its expiry stays, until it lapses; where the store expires the slot itself, the slot empties too.
                using (var silent = UpgradeLock.Take(store, "silent", TimeSpan.FromSeconds(1), heartbeat: false))
                {
                    // Its expiry as stored, from what it wrote: on a loaded machine a read may come after it lapsed.
                    var first = UpgradeLockInfo.Parse(silent.Info.ToJson(), "the silent lock").ExpiresAt;
                    Safe.WaitUntil(() =>
                    {
                        var now = UpgradeLock.Read(store);
                        Assert.False(now != null && now.ExpiresAt != first, "the silent lock was renewed");
                        return now == null && (kind == "file" || Slot(store).Read() == null);
                    }, "the silent lock to lapse");
                }
            }
        }

        [Theory]
        [MemberData(nameof(Safe.Stores), MemberType = typeof(Safe))]
        public void A_run_whose_lock_was_broken_notices_and_leaves_the_next_holders_lock_alone(string kind)
        {
            using (var store = NewStore(kind))
            {
                var run = UpgradeLock.Take(store, "run", TimeSpan.FromSeconds(1), heartbeat: true);
                UpgradeLock.Unlock(store, force: true);
                Plant(store, LockJson("controller-2", 4242, TimeSpan.FromHours(1)));
                Safe.WaitUntil(() => run.Lost, "the run to notice that its lock was broken");
                run.Dispose();
                Assert.Equal("controller-2", UpgradeLock.Read(store).Host);
            }
        }

        [Theory]
        [MemberData(nameof(Safe.Stores), MemberType = typeof(Safe))]
        public void A_lock_held_by_the_session_is_shared_by_its_runs_and_kept_after_them(string kind)
        {
            using (var store = NewStore(kind))
            {
                var held = UpgradeLock.Hold(store, "maintenance", TimeSpan.FromMinutes(5));
                using (var run = UpgradeLock.Acquire(store, "Invoke-DfMigration"))
                    Assert.False(run.Owned);
                Assert.Equal(held.Token, UpgradeLock.Read(store).Token);
                Assert.Equal("maintenance", UpgradeLock.Unlock(store, force: false).Purpose);
                Assert.Null(UpgradeLock.Read(store));
            }
        }

        [Fact]
        public void A_run_renews_the_session_lock_it_uses_so_that_it_outlives_its_own_expiry_on_every_store() => OnEveryStoreAtOnce(RunRenewsSessionLock);

        static void RunRenewsSessionLock(string kind)
        {
            using (var store = NewStore(kind))
            {
                // Eight seconds, a beat every two, as in the heartbeat case: room for late beats on a loaded machine.
                var held = UpgradeLock.Hold(store, "maintenance", TimeSpan.FromSeconds(8));
                using (var run = UpgradeLock.Take(store, "Invoke-DfUpgrade", TimeSpan.FromSeconds(8), heartbeat: true, upgrade: "20260101T000000Z-abcdef"))
                {
                    Assert.False(run.Owned);
                    // Past both the session's own expiry and the one the run gave it when it took it, the lock is still
                    // the session's, renewed and naming the run's upgrade.
                    var taken = UpgradeLock.Read(store).ExpiresAt;
                    if (held.ExpiresAt > taken) taken = held.ExpiresAt;   // the stored expiry is rounded
                    UpgradeLockInfo now = null;
                    Safe.WaitUntil(() => DateTimeOffset.UtcNow > taken && (now = UpgradeLock.Read(store)) != null && now.ExpiresAt > taken,
                        "the session's lock to be renewed past the expiry it was taken with");
                    Assert.Equal(held.Token, now.Token);
                    Assert.Equal("20260101T000000Z-abcdef", now.Upgrade);
                    run.RequireHeld(store);
                }
                // Handed back as the session took it: no upgrade named in it.
                Assert.Null(UpgradeLock.Read(store).Upgrade);
                Assert.Equal("maintenance", UpgradeLock.Unlock(store, force: false).Purpose);
            }
        }

        [Theory]
        [MemberData(nameof(Safe.Stores), MemberType = typeof(Safe))]
        public void An_upgrade_under_way_outlives_its_expired_lock_and_refuses_every_other_writer_until_it_ends(string kind)
        {
            string uri = Safe.NewDatabase(kind, Array.Empty<NbEntry>());
            string folder = Path.Combine(Path.GetTempPath(), "df-backups-" + Guid.NewGuid().ToString("N").Substring(0, 6));
            using (var store = NbStoreFactory.Open(uri))
            {
                // An upgrade takes its lock and records itself, then its process dies: nothing renews the lock.
                var killed = UpgradeLock.Take(store, "Invoke-DfUpgrade (upgrade U-1 to queens)", TimeSpan.FromSeconds(1), heartbeat: false, upgrade: "U-1");
                UpgradeUnderWay.Begin(store, "U-1", "queens", folder);
                Safe.WaitUntil(() => UpgradeLock.Read(store) == null, "the dead upgrade's lock to expire");

                foreach (var purpose in new[] { "Invoke-DfMigration", "Restore-DfNbDatabase", "Set-DfMigrationBaseline" })
                {
                    var e = Assert.Throws<UpgradeUnderWayException>(() => UpgradeGuard.Enter(store, purpose, true, TimeSpan.FromMinutes(1), true).Dispose());
                    Assert.Equal(UpgradeLockedException.InterruptedUpgradeId, e.ErrorId);
                    Assert.Contains("upgrade U-1 to queens", e.Message);
                    Assert.Contains(folder, e.Message);
                    Assert.Contains($"Invoke-DfUpgrade -Resume -BackupPath '{folder}'", e.RecommendedAction);
                    Assert.Contains($"Undo-DfUpgrade -BackupPath '{folder}'", e.RecommendedAction);
                }
                Assert.Throws<UpgradeUnderWayException>(() => UpgradeLock.Acquire(store, "Invoke-DfUpgrade (another)", upgrade: "U-2").Dispose());
                Assert.Throws<UpgradeUnderWayException>(() => UpgradeLock.Hold(store, "maintenance", TimeSpan.FromMinutes(1)));
                Assert.Null(UpgradeLock.Read(store));

                // Its resume or undo takes the lock; once it ends, the record goes and others may write.
                using (UpgradeLock.Acquire(store, "Invoke-DfUpgrade (upgrade U-1, resumed)", upgrade: "U-1"))
                {
                    UpgradeUnderWay.Begin(store, "U-1", "queens", folder);
                    UpgradeUnderWay.End(store);
                }
                Assert.Null(UpgradeUnderWay.Read(store));
                UpgradeGuard.Enter(store, "Invoke-DfMigration", true, TimeSpan.FromMinutes(1), true).Dispose();

                // Unlock-DfNbDatabase -Force discards the record of an upgrade known to be over.
                UpgradeUnderWay.Begin(store, "U-3", "queens", folder);
                UpgradeLock.Unlock(store, force: true);
                Assert.Null(UpgradeUnderWay.Read(store));
                killed.Dispose();
            }
        }

        [Fact]
        public void A_run_whose_lock_expired_is_refused_before_it_writes_on_every_store() => OnEveryStoreAtOnce(ExpiredLockRefused);

        static void ExpiredLockRefused(string kind)
        {
            using (var store = NewStore(kind))
            // Three seconds, so that the check that it is held comes before it expires even on a loaded machine.
            using (var run = UpgradeLock.Take(store, "silent", TimeSpan.FromSeconds(3), heartbeat: false))
            {
                run.RequireHeld(store);
                // Expired as stored (to the millisecond) and as the run took it.
                Safe.WaitUntil(() => UpgradeLock.Read(store) == null && run.Info.IsExpired, "the silent lock to expire");
                var e = Assert.Throws<Errors.DfException>(() => run.RequireHeld(store));
                Assert.Equal(UpgradeLockedException.Id, e.ErrorId);
                Assert.Contains("was lost", e.Message);
            }
        }

        [Theory]
        [MemberData(nameof(Safe.Stores), MemberType = typeof(Safe))]
        public void A_dead_upgrades_lock_is_taken_over_only_by_a_run_of_that_upgrade(string kind)
        {
            int deadPid;
            using (var p = Process.Start(new ProcessStartInfo("true") { UseShellExecute = false }))
            {
                p.WaitForExit();
                deadPid = p.Id;
            }
            using (var store = NewStore(kind))
            {
                string json = JsonSerializer.Serialize(new
                {
                    host = Environment.MachineName, pid = deadPid, user = "someone",
                    purpose = "Invoke-DfUpgrade (upgrade U-1 to queens, its state in /srv/df-backups)",
                    started_at = DateTimeOffset.UtcNow.AddMinutes(-1).ToString("o"), expires_at = DateTimeOffset.UtcNow.AddHours(1).ToString("o"),
                    token = Guid.NewGuid().ToString("N"), upgrade = "U-1",
                });
                Plant(store, json);
                foreach (var other in new[] { null, "U-2" })
                {
                    var e = Assert.Throws<UpgradeLockedException>(() => UpgradeLock.Acquire(store, "Invoke-DfUpgrade", upgrade: other));
                    Assert.Equal(UpgradeLockedException.InterruptedUpgradeId, e.ErrorId);
                    Assert.Contains("upgrade U-1", e.Message);
                    Assert.Contains("/srv/df-backups", e.Message);
                    Assert.Contains("Invoke-DfUpgrade -Resume", e.RecommendedAction);
                    Assert.Contains("Undo-DfUpgrade", e.RecommendedAction);
                    Assert.Contains("Unlock-DfNbDatabase -Force", e.RecommendedAction);
                    Assert.Equal(json, Slot(store).Read());
                }
                using (var resumed = UpgradeLock.Acquire(store, "Invoke-DfUpgrade -Resume", upgrade: "U-1"))
                {
                    Assert.True(resumed.Owned);
                    Assert.Equal(Process.GetCurrentProcess().Id, UpgradeLock.Read(store).ProcessId);
                    Assert.Equal("U-1", UpgradeLock.Read(store).Upgrade);
                }
                Assert.Null(UpgradeLock.Read(store));
            }
        }

        [Fact]
        public void An_embedded_database_is_locked_by_a_file_beside_it()
        {
            string path = Safe.TempFile("nb.jsonl");
            File.WriteAllText(path, "");
            using (var store = NbStoreFactory.Open(path))
            {
                using (UpgradeLock.Acquire(store, "Invoke-DfMigration"))
                {
                    Assert.True(File.Exists(path + ".lock"));
                    Assert.Contains("Invoke-DfMigration", File.ReadAllText(path + ".lock"));
                    var e = Assert.Throws<UpgradeLockedException>(() => UpgradeLock.Acquire(store, "another"));
                    Assert.Contains($"process {Process.GetCurrentProcess().Id}", e.Message);
                }
                Assert.False(File.Exists(path + ".lock"));
            }
        }
    }
}
