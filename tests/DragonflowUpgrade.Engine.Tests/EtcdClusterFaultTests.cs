using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading.Tasks;
using DragonflowUpgrade.Engine.Json;
using DragonflowUpgrade.Engine.Migrations;
using DragonflowUpgrade.Engine.Safety;
using DragonflowUpgrade.Engine.Store;
using Xunit;

namespace DragonflowUpgrade.Engine.Tests
{
    /// <summary>
    /// Members of the test etcd cluster killed (SIGKILL) at a known point of a read or a commit,
    /// then started again, so that the next test finds the cluster healthy.
    /// </summary>
    [Collection(SafetyCollection.Name)]
    public class EtcdClusterFaultTests
    {
        static readonly string[] Members = TestEtcdCluster.Members;

        // The members other than victim, in order.
        static int[] Others(int victim) => Enumerable.Range(0, Members.Length).Where(i => i != victim).ToArray();

        // The cluster's URI with victim first: the member the store speaks to first.
        static string VictimFirst(int victim) => TestEtcdCluster.UriOf(new[] { victim }.Concat(Others(victim)).ToArray());

        static SortedDictionary<string, string> Dump(IEnumerable<NbEntry> entries) =>
            new SortedDictionary<string, string>(entries.Where(e => !ModuleTables.IsModuleTable(e.Key.Table))
                .ToDictionary(e => e.Key.ToString(), e => Convert.ToBase64String(e.Value.Span)), StringComparer.Ordinal);

        [Theory]
        [InlineData(true)]
        [InlineData(false)]
        public void A_read_whose_member_is_killed_part_way_completes_from_another_member_whole_and_exact(bool leader)
        {
            string uri = Safe.NewDatabase("etcd-cluster", Safe.Ports(12000));   // three pages of a read
            var expected = Safe.Dump(uri);
            int l = TestEtcdCluster.Leader();
            int victim = leader ? l : (l + 1) % Members.Length;
            try
            {
                using (var store = (EtcdNbStore)NbStoreFactory.Open(VictimFirst(victim)))
                {
                    var read = new List<NbEntry>();
                    using (var e = store.Read().GetEnumerator())
                    {
                        Assert.True(e.MoveNext());
                        read.Add(e.Current);
                        Assert.Equal(Members[victim], store.Serving);
                        TestEtcdCluster.Kill(victim);   // the first page read, the next ones not yet handed out
                        while (e.MoveNext()) read.Add(e.Current);
                    }
                    Assert.Contains(store.Serving, Others(victim).Select(i => Members[i]));
                    Assert.Equal(expected, Dump(read));
                }
            }
            finally { TestEtcdCluster.Restart(victim); }
        }

        [Fact]
        public void A_read_answered_that_there_is_no_leader_waits_for_one_and_completes()
        {
            string uri = Safe.NewDatabase("etcd-cluster", Safe.Ports(300));
            var expected = Safe.Dump(uri);
            int survivor = TestEtcdCluster.Leader();
            var lost = Others(survivor);
            try
            {
                using (var relay = new DyingRelay(Members[survivor]))   // counts the requests the survivor gets
                using (var store = NbStoreFactory.Open("etcd://" + relay.Endpoint))
                {
                    int before = relay.Requests;
                    foreach (int i in lost) TestEtcdCluster.Kill(i);   // no quorum: the survivor cannot serve a read
                    var read = Task.Run(() => Dump(store.Read()));
                    // The survivor answered unavailable and the read was sent again: now let a leader be elected.
                    Safe.WaitUntil(() => relay.Requests >= before + 2 || read.IsCompleted, "the read to be answered that etcd cannot serve it, and sent again");
                    Assert.False(read.IsCompleted, read.IsFaulted ? read.Exception.InnerException.Message : "the read completed without a quorum");
                    TestEtcdCluster.Restart(lost[0]);
                    Assert.Equal(expected, read.GetAwaiter().GetResult());
                }
            }
            finally { TestEtcdCluster.Restart(lost); }
        }

        // A database holding 2500 ports, a run that bumps them (see CommitJournalTests) worked out, its backup.
        static (string Uri, MigrationRunResult Result, BackupInfo Backup, SortedDictionary<string, string> After) Prepare()
        {
            string uri = Safe.NewDatabase("etcd-cluster", Safe.Ports(2500));
            using (var store = NbStoreFactory.Open(uri))
            {
                var bump = new Migration("bump", "queens", "test bump", Migration.ParseUtc("2017-09-01T00:00:00Z").Value, null, null, "test:bump", nb =>
                {
                    foreach (var port in nb.GetAll("lport").ToList())
                    {
                        if (((string)port["id"]).EndsWith("0")) { nb.Delete("lport", (string)port["id"]); continue; }
                        port["version"] = (long)port["version"] + 1;
                        nb.Update("lport", port);
                    }
                });
                var migrator = new Migrator(store, new MigrationCatalog(new[] { bump }));
                var result = migrator.Run(migrator.Plan().Pending);
                var backup = NbBackup.Write(store, Safe.TempFile("backup.jsonl.gz"));
                var after = Safe.Dump(store);
                foreach (var w in result.Writes)
                {
                    if (w.IsDelete) after.Remove(w.Key.ToString());
                    else after[w.Key.ToString()] = Convert.ToBase64String(w.Value.Span);
                }
                return (uri, result, backup, after);
            }
        }

        // Commits through a store that holds after each write; at the hold after the journal (the row
        // naming it, its rows), the marker and the first batch, kills the victims, then lets the commit go on.
        static Task<CommitReport> CommitKilling(INbStore store, string hold, (string Uri, MigrationRunResult Result, BackupInfo Backup, SortedDictionary<string, string> After) s, params int[] victims)
        {
            Directory.CreateDirectory(hold);
            var stepping = new SteppedStore(store, holdFolder: hold);
            foreach (int n in new[] { 1, 2, 3 }) File.WriteAllText(Path.Combine(hold, $"go-{n}"), "");
            var commit = Task.Run(() => CommitJournal.Commit(stepping, s.Result.Writes, s.Backup, new[] { "bump" }, s.Result.Expected));
            Safe.WaitUntil(() => File.Exists(Path.Combine(hold, "held-4")) || commit.IsCompleted, "the commit's first batch");
            Assert.False(commit.IsCompleted, "the commit ended before its first batch was held");
            foreach (int v in victims) TestEtcdCluster.Kill(v);
            File.WriteAllText(Path.Combine(hold, "go-on"), "");
            return commit;
        }

        [Fact]
        public void A_commit_whose_leader_is_killed_part_way_goes_on_through_another_member_to_exactly_the_migrated_content()
        {
            var s = Prepare();
            int victim = TestEtcdCluster.Leader();   // its death forces an election mid-commit
            try
            {
                using (var store = (EtcdNbStore)NbStoreFactory.Open(VictimFirst(victim)))
                {
                    Assert.Equal(Members[victim], store.Serving);
                    var report = CommitKilling(store, Safe.TempFile("hold"), s, victim).GetAwaiter().GetResult();
                    Assert.Contains(store.Serving, Others(victim).Select(i => Members[i]));
                    Assert.Null(CommitJournal.ReadInProgress(store));
                    Assert.Equal(report.RunId, CommitJournal.ReadLastRun(store).RunId);
                    Assert.Equal(s.After, Safe.Dump(store));
                }
            }
            finally { TestEtcdCluster.Restart(victim); }
        }

        [Fact]
        public void A_commit_that_loses_every_member_part_way_fails_naming_them_and_Resume_finishes_it_exactly()
        {
            var s = Prepare();
            var all = Enumerable.Range(0, Members.Length).ToArray();
            try
            {
                using (var store = NbStoreFactory.Open(s.Uri))
                {
                    var commit = CommitKilling(store, Safe.TempFile("hold"), s, all);
                    var e = Assert.Throws<CommitInterruptedException>(() => commit.GetAwaiter().GetResult());
                    Assert.Contains(s.Uri, e.Message);   // etcd://a,b,c: every member
                    Assert.Contains("Resume-DfMigration", e.Message);
                }
                TestEtcdCluster.Restart(all);
                using (var store = NbStoreFactory.Open(s.Uri))
                {
                    Assert.Throws<CommitInProgressException>(() => CommitJournal.RequireNoneInProgress(store));
                    CommitJournal.Resume(store);
                    Assert.Null(CommitJournal.ReadInProgress(store));
                    Assert.Equal(s.After, Safe.Dump(store));
                }
            }
            finally { TestEtcdCluster.Restart(all); }
        }
    }
}
