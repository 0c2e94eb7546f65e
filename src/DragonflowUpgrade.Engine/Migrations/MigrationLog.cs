using System;
using System.Collections.Generic;
using System.Linq;
using DragonflowUpgrade.Engine.Json;
using DragonflowUpgrade.Engine.Store;

namespace DragonflowUpgrade.Engine.Migrations
{
    /// <summary>What kind of row of <c>schema_migration_log</c> an entry is.</summary>
    public enum MigrationLogKind
    {
        /// <summary>A migration that ran.</summary>
        Migration,
        /// <summary>A migration marked applied without running, by a baseline.</summary>
        Baselined,
        /// <summary>The baseline itself: the release the database was declared to be at.</summary>
        Baseline,
        /// <summary>The schema release the database is at.</summary>
        Schema,
    }

    /// <summary>One row of the NB table <c>schema_migration_log</c>.</summary>
    public sealed class MigrationLogEntry
    {
        public string Id { get; set; } = "";
        public MigrationLogKind Kind { get; set; }
        /// <summary>Null in a row written without one (kept as read).</summary>
        public string? Release { get; set; }
        public string? Description { get; set; }
        public DateTimeOffset? ProposedAt { get; set; }
        public DateTimeOffset? AppliedAt { get; set; }
        public string? Checksum { get; set; }

        /// <summary>True for rows that mark a migration as done (ran or baselined).</summary>
        public bool MarksMigration => Kind == MigrationLogKind.Migration || Kind == MigrationLogKind.Baselined;

        public static MigrationLogEntry For(Migration m, MigrationLogKind kind, DateTimeOffset appliedAt) => new MigrationLogEntry
        {
            Id = m.Id,
            Kind = kind,
            Release = m.Release,
            Description = m.Description,
            ProposedAt = m.ProposedAt,
            AppliedAt = appliedAt,
            Checksum = m.Checksum,
        };

        public NbObject ToJson()
        {
            var o = new NbObject
            {
                ["id"] = Id,
                ["kind"] = KindName(Kind),
                ["release"] = Release,
                ["description"] = Description ?? "",
            };
            if (ProposedAt.HasValue) o["proposed_at"] = Migration.FormatUtc(ProposedAt.Value);
            if (AppliedAt.HasValue) o["applied_at"] = Migration.FormatUtc(AppliedAt.Value);
            if (Checksum != null) o["checksum"] = Checksum;
            return o;
        }

        public NbEntry ToEntry() => new NbEntry(new NbKey(MigrationLog.Table, null, Id), NbJson.Serialize(ToJson()));

        static string KindName(MigrationLogKind k)
        {
            switch (k)
            {
                case MigrationLogKind.Baselined: return "baselined";
                case MigrationLogKind.Baseline: return "baseline";
                case MigrationLogKind.Schema: return "schema";
                default: return "migration";
            }
        }

        internal static MigrationLogEntry Parse(NbEntry e)
        {
            NbObject? o;
            try { o = NbJson.Parse(e.Value.Span) as NbObject; }
            catch (FormatException ex) { throw new NbStoreException($"The migration log row {e.Key} is {ex.Message}"); }
            if (o == null) throw new NbStoreException($"The migration log row {e.Key} is not a JSON object.");
            string kind = o["kind"] as string ?? "migration";
            return new MigrationLogEntry
            {
                Id = o["id"] as string ?? e.Key.Id,
                Kind = kind == "baselined" ? MigrationLogKind.Baselined
                    : kind == "baseline" ? MigrationLogKind.Baseline
                    : kind == "schema" ? MigrationLogKind.Schema
                    : MigrationLogKind.Migration,
                Release = o["release"] as string,
                Description = o["description"] as string,
                ProposedAt = Migration.ParseUtc(o["proposed_at"] as string),
                AppliedAt = Migration.ParseUtc(o["applied_at"] as string),
                Checksum = o["checksum"] as string,
            };
        }
    }

    /// <summary>Owns the NB table <c>schema_migration_log</c>: which migrations a database has had.</summary>
    public static class MigrationLog
    {
        public const string Table = "schema_migration_log";
        public const string BaselineId = "baseline";
        public const string SchemaId = "schema-release";

        /// <summary>Reads the log's rows, in the order they were applied.</summary>
        public static IReadOnlyList<MigrationLogEntry> Read(INbStore store) => InOrder(store.Read(Table).Select(MigrationLogEntry.Parse));

        /// <summary>Log rows in the order they were applied.</summary>
        public static IReadOnlyList<MigrationLogEntry> InOrder(IEnumerable<MigrationLogEntry> rows) =>
            rows.OrderBy(e => e.AppliedAt ?? DateTimeOffset.MinValue)
                .ThenBy(e => e.ProposedAt ?? DateTimeOffset.MinValue)
                .ThenBy(e => e.Id, StringComparer.Ordinal)
                .ToList();

        /// <summary>
        /// The schema release a database is recorded at, from its log rows (in any order): the
        /// last schema row a run wrote, else the last baseline; null when neither was ever recorded.
        /// </summary>
        public static string? RecordedRelease(IEnumerable<MigrationLogEntry> rows)
        {
            var log = InOrder(rows);
            return log.LastOrDefault(r => r.Kind == MigrationLogKind.Schema)?.Release
                ?? log.LastOrDefault(r => r.Kind == MigrationLogKind.Baseline)?.Release;
        }
    }
}
