using System;
using DragonflowUpgrade.Engine.Errors;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using DragonflowUpgrade.Engine.Schema;

namespace DragonflowUpgrade.Engine.Migrations
{
    /// <summary>A known migration, compiled or script: its metadata and what it does.</summary>
    public sealed class Migration
    {
        /// <param name="id">The migration's id, unique in its catalog (what the migration log records).</param>
        /// <param name="release">The release whose schema it brings the database to.</param>
        /// <param name="description">What it does, in a sentence; null for none.</param>
        /// <param name="proposedAt">When it was proposed: migrations run in this order, then by id.</param>
        /// <param name="handles">The schema changes it takes care of, as authors write them (<c>lswitch.subnets:FieldRemoved</c>).</param>
        /// <exception cref="MigrationDefinitionException">One of <paramref name="handles"/> names no schema change; the message names <paramref name="source"/>.</exception>
        /// <param name="checksum">The checksum of its source, recorded in the migration log; null for none.</param>
        /// <param name="source">Where it comes from (its file, or the assembly and type), named in errors.</param>
        /// <param name="apply">What it does to the database, given the snapshot's API.</param>
        public Migration(string id, string release, string? description, DateTimeOffset proposedAt,
            IEnumerable<string>? handles, string? checksum, string source, Action<INbApi> apply)
        {
            Id = id;
            Release = release;
            Description = description ?? "";
            ProposedAt = proposedAt.ToUniversalTime();
            Handles = (handles ?? Array.Empty<string>()).Select(h => SchemaChangeKey.TryParse(h, out string? problem)
                ?? throw new MigrationDefinitionException(source, $"migration '{id}' has '{h}' in Handles, which {problem}.")).ToList();
            Checksum = checksum;
            Source = source;
            Apply = apply;
        }

        public string Id { get; }
        public string Release { get; }
        public string Description { get; }
        public DateTimeOffset ProposedAt { get; }
        /// <summary>The schema changes it takes care of: a release upgrade needing one of them is not refused.</summary>
        public IReadOnlyList<SchemaChangeKey> Handles { get; }

        /// <summary>SHA-256 of a script's text; null for compiled migrations, whose code is versioned with the module.</summary>
        public string? Checksum { get; }

        /// <summary>Where the migration was found: a file path, or assembly and type.</summary>
        public string Source { get; }

        public Action<INbApi> Apply { get; }

        public override string ToString() => $"{Id} ({Release})";

        /// <summary>
        /// Checks the metadata every migration needs; throws <see cref="MigrationDefinitionException"/> naming
        /// <paramref name="source"/> and the field. Returns the parsed proposed date.
        /// </summary>
        public static DateTimeOffset ValidateMetadata(string source, string id, string release, string proposedAt)
        {
            if (string.IsNullOrWhiteSpace(id)) throw new MigrationDefinitionException(source, "it has no Id.");
            if (!IsValidId(id))
                throw new MigrationDefinitionException(source, $"its Id '{id}' is not a migration id: an id starts with a letter or a digit and holds only letters, digits, '.', '_' and '-', as New-DfMigration requires. Rename it.");
            if (string.IsNullOrWhiteSpace(release)) throw new MigrationDefinitionException(source, $"migration '{id}' has no Release.");
            if (string.IsNullOrWhiteSpace(proposedAt)) throw new MigrationDefinitionException(source, $"migration '{id}' has no ProposedAt.");
            return ParseUtc(proposedAt) ?? throw new MigrationDefinitionException(source,
                $"migration '{id}' has ProposedAt '{proposedAt}', which is not an ISO 8601 UTC time such as 2017-09-01T00:00:00Z.");
        }

        /// <summary>The one rule for migration ids, wherever a migration comes from: it also names files and log rows.</summary>
        public const string IdPattern = @"^[A-Za-z0-9][A-Za-z0-9._-]*\z";

        public static bool IsValidId(string id) => id != null && System.Text.RegularExpressions.Regex.IsMatch(id, IdPattern);

        /// <summary>Parses an ISO 8601 time with a zone (Z or an offset); null when it is not one.</summary>
        public static DateTimeOffset? ParseUtc(string? text)
        {
            if (text == null) return null;
            string[] formats = { "yyyy-MM-dd'T'HH:mm:ssK", "yyyy-MM-dd'T'HH:mm:ss.FFFFFFFK", "yyyy-MM-dd'T'HH:mmK" };
            if (DateTimeOffset.TryParseExact(text.Trim(), formats, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t)
                && (text.Trim().EndsWith("Z", StringComparison.OrdinalIgnoreCase) || text.Contains("+") || text.LastIndexOf('-') > 10))
                return t.ToUniversalTime();
            return null;
        }

        public static string FormatUtc(DateTimeOffset t) => t.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
    }

    /// <summary>A migration is malformed: the message names the file or type and what is wrong.</summary>
    public sealed class MigrationDefinitionException : DfException
    {
        public MigrationDefinitionException(string source, string problem, Exception? inner = null)
            : base("MigrationMalformed", DfErrorCategory.InvalidData, $"{source}: {problem}", source,
                   "Fix the migration the message names (or remove it from -MigrationPath), then run again.", inner)
        {
            MigrationSource = source;
        }

        /// <summary>The file or type at fault.</summary>
        public string MigrationSource { get; }
    }
}
