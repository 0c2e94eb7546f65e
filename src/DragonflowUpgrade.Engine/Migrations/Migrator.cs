using DragonflowUpgrade.Engine;
using System;
using DragonflowUpgrade.Engine.Errors;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using DragonflowUpgrade.Engine.Schema;
using DragonflowUpgrade.Engine.Store;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace DragonflowUpgrade.Engine.Migrations
{
    /// <summary>What a run does: the migrations applied to the snapshot and the writes that follow.</summary>
    public sealed class MigrationRunResult
    {
        internal MigrationRunResult(IReadOnlyList<MigrationLogEntry> applied, IReadOnlyList<TableChanges> changes,
            IReadOnlyList<NbEntry> writes, int objectsRead, IReadOnlyList<string>? warnings = null, SchemaUpgrade? schema = null,
            IEnumerable<NbEntry>? before = null, Func<NbKey, ReadOnlyMemory<byte>?>? expected = null, NbKeyLayout? keyLayout = null, int rekeyed = 0)
        {
            KeyLayout = keyLayout;
            Rekeyed = rekeyed;
            Expected = expected ?? (_ => null);
            Applied = applied;
            Changes = changes;
            Writes = writes;
            ObjectsRead = objectsRead;
            Warnings = warnings ?? Array.Empty<string>();
            Before = before ?? Array.Empty<NbEntry>();
            Schema = schema ?? SchemaUpgrade.None;
        }

        /// <summary>The log rows the run writes: one per migration applied, in order, then the schema release reached, if it changed.</summary>
        public IReadOnlyList<MigrationLogEntry> Applied { get; }

        /// <summary>Creates, updates and deletes per table, the log's own rows included.</summary>
        public IReadOnlyList<TableChanges> Changes { get; }

        /// <summary>Every put and delete the run writes.</summary>
        public IReadOnlyList<NbEntry> Writes { get; }

        public int ObjectsRead { get; }

        /// <summary>What migrations said the operator must know or do (e.g. after the upgrade).</summary>
        public IReadOnlyList<string> Warnings { get; }

        public SchemaUpgrade Schema { get; }

        /// <summary>The database as the run read it (the module's own tables left out): what a backup taken before the commit holds.</summary>
        public IEnumerable<NbEntry> Before { get; }

        /// <summary>What a key held when the run read it (null: absent): what the commit requires it still to hold.</summary>
        public Func<NbKey, ReadOnlyMemory<byte>?> Expected { get; }

        /// <summary>The key layout the commit moves the database to (the target release's, on a store where it differs); null when the keys stay as they are.</summary>
        public NbKeyLayout? KeyLayout { get; }

        /// <summary>Objects the run writes unchanged, only to move them into <see cref="KeyLayout"/> (the log's rows included).</summary>
        public int Rekeyed { get; }
    }

    /// <summary>
    /// Runs the spec's NB migration: plan from the log, snapshot the database, apply the
    /// pending migrations in order to the snapshot, and write only the difference. A failing
    /// migration writes nothing at all.
    /// </summary>
    public sealed class Migrator
    {
        readonly INbStore _store;
        readonly MigrationCatalog _catalog;
        readonly ILogger _logger;
        readonly Func<string, SchemaManifest?> _schemas;

        /// <param name="store">The NB database the migrations run on.</param>
        /// <param name="catalog">The known migrations.</param>
        /// <param name="logger">Where the run's steps are logged; null for nowhere.</param>
        /// <param name="schemas">The schema of a release, or null when there is none; null when no release has one.</param>
        public Migrator(INbStore store, MigrationCatalog catalog, ILogger? logger = null, Func<string, SchemaManifest?>? schemas = null)
        {
            _store = store;
            _catalog = catalog;
            _logger = logger ?? NullLogger.Instance;
            _schemas = schemas ?? (_ => null);
        }

        public MigrationCatalog Catalog => _catalog;

        /// <summary>Reads the log (and nothing else) and sets it against the known migrations.</summary>
        public MigrationPlan Plan()
        {
            var log = MigrationLog.Read(_store);
            var done = new Dictionary<string, MigrationLogEntry>(StringComparer.Ordinal);
            foreach (var row in log.Where(r => r.MarksMigration)) done[row.Id] = row;
            var statuses = _catalog.Migrations.Select(m => new MigrationStatus(m, done.TryGetValue(m.Id, out var r) ? r : null)).ToList();
            var known = new HashSet<string>(_catalog.Migrations.Select(m => m.Id), StringComparer.Ordinal);
            var plan = new MigrationPlan(statuses,
                statuses.Where(s => !s.IsApplied).Select(s => s.Migration).ToList(),
                log,
                log.Where(r => r.MarksMigration && !known.Contains(r.Id)).ToList());
            _logger.LogDebug("Read {Rows} migration log rows from {Database}: {Pending} of {Known} known migrations pending.",
                log.Count, _store.Location, plan.Pending.Count, _catalog.Migrations.Count);
            return plan;
        }

        /// <summary>
        /// The pending migrations to run: all of them up to <paramref name="targetRelease"/> (all
        /// releases when null), or exactly <paramref name="ids"/>, which must be the first pending ones in order.
        /// </summary>
        public IReadOnlyList<Migration> Select(MigrationPlan plan, string? targetRelease = null, IReadOnlyCollection<string>? ids = null)
        {
            IEnumerable<Migration> pending = plan.Pending;
            if (targetRelease != null)
            {
                int target = _catalog.RequireRelease(targetRelease);
                pending = pending.Where(m => _catalog.ReleaseIndex(m.Release) <= target);
            }
            var selected = pending.ToList();
            if (ids == null) return selected;

            var applied = new HashSet<string>(plan.Migrations.Where(s => s.IsApplied).Select(s => s.Migration.Id), StringComparer.Ordinal);
            foreach (var id in ids)
            {
                if (applied.Contains(id)) throw SelectionInvalid($"Migration '{id}' is already applied.");
                if (!plan.Pending.Any(m => m.Id == id)) throw SelectionInvalid($"Migration '{id}' is not known: check -MigrationPath.");
                if (!selected.Any(m => m.Id == id)) throw SelectionInvalid($"Migration '{id}' belongs to a release after '{targetRelease}'.");
            }
            var wanted = new HashSet<string>(ids, StringComparer.Ordinal);
            var prefix = selected.Take(wanted.Count).ToList();
            var skipped = prefix.Where(m => !wanted.Contains(m.Id)).ToList();
            if (skipped.Count > 0)
                throw SelectionInvalid(
                    $"The selection skips pending migration(s) {string.Join(", ", skipped.Select(m => "'" + m.Id + "'"))}, which must run first. Migrations run in order; select every pending migration up to the last one you want.");
            return prefix;
        }

        // The last release a schema goes to with no target: the catalog's default target (a database
        // already past it stays at its own release), else any.
        int DefaultLast => _catalog.DefaultTarget == null ? int.MaxValue : _catalog.ReleaseIndex(_catalog.DefaultTarget);

        static DfException SelectionInvalid(string message) =>
            new DfException("MigrationSelectionInvalid", DfErrorCategory.InvalidArgument, message, null,
                            "Select every pending migration up to the last one you want (Get-DfMigration -Pending lists them in order).");

        /// <summary>
        /// The schema side of a run. It applies only to a database whose release is recorded (by
        /// a baseline or an earlier run) and a target release that has a schema: the target is
        /// <paramref name="targetRelease"/>, else the newest release with a schema up to the
        /// catalog's default target.
        /// </summary>
        public SchemaUpgrade PlanSchema(MigrationPlan plan, string? targetRelease, IReadOnlyList<Migration> selected)
        {
            string? from = MigrationLog.RecordedRelease(plan.Log);
            if (from == null) return SchemaUpgrade.None;
            // A selection of only some of the pending migrations leaves the database between
            // releases: no schema upgrade, and nothing to validate against.
            if (selected.Count < Select(plan, targetRelease).Count) return SchemaUpgrade.None;
            int fromIndex = _catalog.ReleaseIndex(from);
            string? to = targetRelease != null
                ? (_schemas(targetRelease) != null ? _catalog.Releases[_catalog.RequireRelease(targetRelease)] : null)
                : _catalog.Releases.Where((r, i) => i >= fromIndex && i <= Math.Max(fromIndex, DefaultLast) && _schemas(r) != null).LastOrDefault();
            var target = to == null ? null : _schemas(to);
            if (to == null || target == null) return SchemaUpgrade.None;  // a release is chosen for having a schema
            var source = _schemas(from);
            if (source == null || string.Equals(from, to, StringComparison.OrdinalIgnoreCase))
                return new SchemaUpgrade(from, to, target, Array.Empty<SchemaChange>(), Array.Empty<SchemaChange>());
            var changes = SchemaDiff.Compare(source, target);
            var handles = selected.Concat(plan.Migrations.Where(s => s.IsApplied).Select(s => s.Migration)).SelectMany(m => m.Handles);
            return new SchemaUpgrade(from, to, target, changes, SchemaUpgrade.FindUnhandled(changes, handles));
        }

        /// <summary>
        /// Applies <paramref name="migrations"/> to a snapshot of the database and works out the
        /// writes (the difference and the log rows). Writes nothing: <see cref="Commit(MigrationRunResult, IProgress{ProgressReport})"/> does.
        /// </summary>
        /// <param name="migrations">The migrations to apply, in run order.</param>
        /// <param name="schema">The schema the result is validated against, and the release change it records; null for none.</param>
        /// <param name="progress">Told how far the read, the migrations and the validation are; null for no reports.</param>
        /// <param name="afterRead">Given the snapshot once it is read, before any migration runs (the guard checks the heartbeats in it).</param>
        public MigrationRunResult Run(IReadOnlyList<Migration> migrations, SchemaUpgrade? schema = null, IProgress<ProgressReport>? progress = null,
            Action<NbSnapshot>? afterRead = null)
        {
            schema = schema ?? SchemaUpgrade.None;
            // Only a schema upgrade between two known releases has changes, handled or not (PlanSchema).
            if (schema.Unhandled.Count > 0) throw new SchemaChangeUnhandledException(schema.From!, schema.To!, schema.Unhandled);
            if (migrations.Count == 0 && !schema.ChangesRelease)
                return new MigrationRunResult(Array.Empty<MigrationLogEntry>(), Array.Empty<TableChanges>(), Array.Empty<NbEntry>(), 0);

            var clock = Stopwatch.StartNew();
            progress?.Report(new ProgressReport("Reading the NB database", _store.Location, -1));
            var snapshot = NbSnapshot.Load(_store, new ReportTo<int>(n =>
                progress?.Report(new ProgressReport("Reading the NB database", $"{n} objects read", -1))));
            _logger.LogDebug("Read {Count} objects from {Database} in {Ms} ms.", snapshot.Count, _store.Location, clock.ElapsedMilliseconds);
            afterRead?.Invoke(snapshot);

            var applied = new List<MigrationLogEntry>();
            for (int i = 0; i < migrations.Count; i++)
            {
                var m = migrations[i];
                progress?.Report(new ProgressReport("Applying migrations", $"{m.Id} ({i + 1} of {migrations.Count})", 100 * i / migrations.Count));
                var t = Stopwatch.StartNew();
                try { m.Apply(snapshot); }
                catch (Exception e) when (!(e is StackOverflowException))
                {
                    // An engine error keeps its id and action, with the migration and the object named.
                    if (EngineError(e) is Errors.DfException df)
                        throw new Errors.DfException(df.ErrorId, df.Category,
                            $"Migration '{m.Id}' ({m.Source}) failed{(snapshot.LastObject == null ? "" : " on " + snapshot.LastObject)}: {df.Message} Nothing was written to the database.",
                            m.Id, df.RecommendedAction, df);
                    throw new MigrationFailedException(m, snapshot.LastObject, Unwrap(e));
                }
                _logger.LogDebug("Applied {Migration} to the snapshot in {Ms} ms.", m.Id, t.ElapsedMilliseconds);
                applied.Add(MigrationLogEntry.For(m, MigrationLogKind.Migration, DateTimeOffset.UtcNow));
            }

            if (schema.Target != null)
            {
                progress?.Report(new ProgressReport("Validating", $"the objects against release {schema.To}", 100));
                var validation = Stopwatch.StartNew();
                foreach (var change in schema.Changes)
                    if (change.Kind == SchemaChangeKind.FieldAdded && change.Automatic && change.Field != null && change.Field.IndexOf('.') < 0)
                        AutomaticUpgrade.WriteDefault(snapshot, change.Table, change.Field, schema.Target);
                var scopeOf = ValidationScope(snapshot, schema);
                var errors = SchemaValidator.Validate(schema.Target, snapshot.AllEntriesAsRead().Where(x => !IgnoredByValidation(x.Entry.Key.Table))
                    .Select(x => (x.Entry, Scope: scopeOf(x.Entry.Key.Table, x.AsRead))).Where(x => !x.Scope.IsNothing), snapshot);
                // A schema upgrade with a target names the target's release (PlanSchema).
                if (errors.Count > 0) throw new SchemaValidationException(schema.To!, errors);
                _logger.LogDebug("Validated the {Count} objects against release {Release} in {Ms} ms.", snapshot.Count, schema.To, validation.ElapsedMilliseconds);
                if (schema.ChangesRelease)
                    applied.Add(new MigrationLogEntry
                    {
                        Id = MigrationLog.SchemaId,
                        Kind = MigrationLogKind.Schema,
                        Release = schema.To,
                        Description = $"Schema release {schema.To}" + (schema.From == null ? "" : $", upgraded from {schema.From}"),
                        AppliedAt = DateTimeOffset.UtcNow,
                    });
            }

            var diffClock = Stopwatch.StartNew();
            var counts = new Dictionary<string, TableChanges>(StringComparer.Ordinal);
            var writes = snapshot.Diff(counts).ToList();
            _logger.LogDebug("Found {Count} changed objects in {Ms} ms.", writes.Count, diffClock.ElapsedMilliseconds);
            foreach (var row in applied) writes.Add(row.ToEntry());
            var layout = KeyLayoutChange(schema);
            // Keys stay in the layout they were read in unless it changes: then every key is written again, else only those put are
            // checked. The snapshot holds one object per table and id, so no two of them share a stored key that leaves out the topic;
            // a delete is of a key as read (an object moved to another topic is a delete and a put of one stored key where keys hold no topic).
            StoredKeys.Require(_store, layout == null ? writes.Where(w => !w.IsDelete).Select(w => w.Key) : snapshot.AllEntries().Select(e => e.Key).Concat(applied.Select(r => r.ToEntry().Key)),
                layout ?? _store.Parts.KeyLayout);
            Add(counts, MigrationLog.Table).Creates += applied.Count;
            int rekeyed = 0;
            if (layout != null)
            {
                // Every object not written anyway is put again as it is: the store writes it under its key in the new layout.
                var written = new HashSet<NbKey>(writes.Select(w => w.Key));
                foreach (var e in snapshot.AllEntries())
                    if (!written.Contains(e.Key)) { writes.Add(e); rekeyed++; }
            }

            return new MigrationRunResult(applied,
                counts.Values.OrderBy(c => c.Table, StringComparer.Ordinal).ToList(), writes, snapshot.Count, snapshot.Warnings, schema, snapshot.Originals(),
                snapshot.OriginalAt, layout, rekeyed);
        }

        /// <summary>
        /// Writes what <see cref="Run"/> worked out: the changed objects and the log rows, each
        /// batch only if its keys still hold what the run read (else <see cref="NbConflictException"/>).
        /// </summary>
        /// <remarks>No lock, journal or backup: for tests and benchmarks; operations go through <see cref="Run.NbRun"/>.</remarks>
        internal void Commit(MigrationRunResult result, IProgress<ProgressReport>? progress = null)
        {
            var writes = result.Writes;
            if (writes.Count == 0) return;
            progress?.Report(new ProgressReport("Writing the NB database", $"{writes.Count} changes", 0));
            if (result.KeyLayout != null) _store.Parts.UseKeyLayout(result.KeyLayout);
            _store.WriteIf(writes, result.Expected, new ReportTo<int>(n =>
                progress?.Report(new ProgressReport("Writing the NB database", $"{n} of {writes.Count} changes written", 100 * n / Math.Max(1, writes.Count)))));
            _logger.LogDebug("Wrote {Count} changes to {Database}.", writes.Count, _store.Location);
        }

        /// <summary>
        /// Writes what <see cref="Run"/> worked out through the crash-safe commit journal (see
        /// <see cref="Safety.CommitJournal"/>); <paramref name="backup"/> is the backup made of the database just before.
        /// </summary>
        /// <remarks>No lock: <see cref="Run.MigrationRunPlan"/> calls it behind the guard.</remarks>
        internal Safety.CommitReport Commit(MigrationRunResult result, Safety.BackupInfo backup, IProgress<ProgressReport>? progress = null) =>
            Safety.CommitJournal.Commit(_store, result.Writes, backup, result.Applied.Select(r => r.Id).ToList(), result.Expected, progress, _logger,
                result.KeyLayout == null ? null : result.Schema.To);

        // The key layout of the target release when the store's differs from the source release's; else null.
        NbKeyLayout? KeyLayoutChange(SchemaUpgrade schema)
        {
            if (!schema.ChangesRelease || schema.From == null || schema.To == null) return null;
            var from = _store.Parts.KeyLayoutAt(schema.From);
            var to = _store.Parts.KeyLayoutAt(schema.To);
            return from != null && to != null && from != to ? to : null;
        }

        // How much of each object validation checks. Every object the run created, changed or moved is
        // checked whole, as is every object of a table that only the target has. An object left as it was
        // read fitted its release: of it, only what may fit that release and not the target is checked,
        // the values of the fields whose rules differ between the two releases and of those that refer
        // to a table that lost ids or into an embedded list of a table that changed (with its member
        // names and required fields); of a table with none of those, nothing. All of every object
        // when the recorded release has no schema. Given an object's table and whether it is as read.
        Func<string, bool, CheckScope> ValidationScope(NbSnapshot snapshot, SchemaUpgrade schema)
        {
            var source = schema.From == null ? null : _schemas(schema.From);
            var target = schema.Target;
            if (source == null || target == null) return (_, _) => CheckScope.Whole;
            var changes = SchemaDiff.Compare(source, target);
            var (touched, lost) = snapshot.TouchedTables();
            var asRead = new Dictionary<string, CheckScope>(StringComparer.Ordinal);
            foreach (var t in target.Tables.Values)
            {
                if (t.Model == null || !source.Tables.ContainsKey(t.Name)) continue;
                var ofTable = changes.Where(c => c.Table == t.Name).ToList();
                if (ofTable.Any(c => c.Field == null)) continue;
                var fields = new HashSet<string>(ofTable.Select(c => c.Field!.Split('.')[0]), StringComparer.Ordinal);
                foreach (var f in t.Model.Fields)
                {
                    var (tables, embeddedIn) = SchemaValidator.ReferencesOf(target, new[] { f.Value });
                    if (tables.Any(lost.Contains) || embeddedIn.Any(path => touched.Contains(path.Split('.')[0]))) fields.Add(f.Key);
                }
                asRead[t.Name] = fields.Count == 0 ? CheckScope.Nothing : CheckScope.ValuesOf(fields);
            }
            _logger.LogDebug("Validating the objects created or changed whole; of the others, {Scopes}.",
                string.Join("; ", target.Tables.Keys.OrderBy(t => t, StringComparer.Ordinal)
                    .Select(t => asRead.TryGetValue(t, out var scope) ? (scope.IsNothing ? null : t + ": " + scope) : t + ": whole").OfType<string>()));
            return (table, isAsRead) => isAsRead && asRead.TryGetValue(table, out var scope) ? scope : CheckScope.Whole;
        }

        static bool IgnoredByValidation(string table) => table == MigrationLog.Table || ModuleTables.IsModuleTable(table);

        static Errors.DfException? EngineError(Exception? e)
        {
            for (; e != null; e = e.InnerException)
                if (e is Errors.DfException df) return df;
            return null;
        }

        static Exception Unwrap(Exception e) =>
            e is System.Reflection.TargetInvocationException && e.InnerException != null ? e.InnerException : e;

        static TableChanges Add(Dictionary<string, TableChanges> counts, string table)
        {
            if (!counts.TryGetValue(table, out var c)) counts.Add(table, c = new TableChanges(table));
            return c;
        }

        /// <summary>
        /// Marks every migration of <paramref name="release"/> and the releases before it as
        /// applied without running them, and records the baseline. Returns the rows written.
        /// </summary>
        /// <remarks>No lock: for tests; operations go through <see cref="Run.NbRun.PlanBaseline"/>.</remarks>
        internal IReadOnlyList<MigrationLogEntry> Baseline(string release)
        {
            var rows = PlanBaseline(release);
            _store.Write(rows.Select(r => r.ToEntry()).ToList());
            return rows;
        }

        /// <summary>The rows <see cref="Baseline"/> writes, read from the log. Writes nothing.</summary>
        public IReadOnlyList<MigrationLogEntry> PlanBaseline(string release)
        {
            int index = _catalog.RequireRelease(release);
            var plan = Plan();
            var now = DateTimeOffset.UtcNow;
            var rows = plan.Pending.Where(m => _catalog.ReleaseIndex(m.Release) <= index)
                .Select(m => MigrationLogEntry.For(m, MigrationLogKind.Baselined, now)).ToList();
            rows.Add(new MigrationLogEntry
            {
                Id = MigrationLog.BaselineId,
                Kind = MigrationLogKind.Baseline,
                Release = _catalog.Releases[index],
                Description = $"Baseline: the database was at release {_catalog.Releases[index]}",
                AppliedAt = now,
            });
            return rows;
        }
    }
}
