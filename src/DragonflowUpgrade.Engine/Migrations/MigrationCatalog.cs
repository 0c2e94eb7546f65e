using System;
using System.Collections.Generic;
using System.Linq;

namespace DragonflowUpgrade.Engine.Migrations
{
    /// <summary>
    /// Every known migration, in run order: <c>proposed_at</c>, then <c>id</c>. Releases are
    /// ordered by a given release list (Dragonflow's, shipped) and then by their first migration.
    /// </summary>
    public sealed class MigrationCatalog
    {
        readonly List<string> _releases;

        /// <param name="migrations">The known migrations, in any order; the catalog orders them.</param>
        /// <param name="knownReleases">The releases in their order (Dragonflow's); null: only the releases the migrations name, ordered by their first migration.</param>
        /// <param name="defaultTarget">The newest release whose schema a run without a target goes to (a
        /// database already past it stays at its own); null: the newest release with a schema.</param>
        public MigrationCatalog(IEnumerable<Migration> migrations, IEnumerable<string>? knownReleases = null, string? defaultTarget = null)
        {
            var byId = new Dictionary<string, Migration>(StringComparer.Ordinal);
            foreach (var m in migrations)
            {
                if (byId.TryGetValue(m.Id, out var other))
                    throw new MigrationDefinitionException(m.Source, $"migration id '{m.Id}' is already used by {other.Source}. Give one of them another Id.");
                byId.Add(m.Id, m);
            }
            Migrations = byId.Values
                .OrderBy(m => m.ProposedAt)
                .ThenBy(m => m.Id, StringComparer.Ordinal)
                .ToList();
            _releases = (knownReleases ?? Enumerable.Empty<string>()).ToList();
            foreach (var m in Migrations)
                if (!_releases.Contains(m.Release, StringComparer.OrdinalIgnoreCase)) _releases.Add(m.Release);
            if (defaultTarget != null && ReleaseIndex(defaultTarget) < 0)
                throw new ArgumentException($"The default target '{defaultTarget}' is not a known release.", nameof(defaultTarget));
            DefaultTarget = defaultTarget;
        }

        /// <summary>The newest release whose schema a run without a target goes to; null: the newest with a schema.</summary>
        public string? DefaultTarget { get; }

        public IReadOnlyList<Migration> Migrations { get; }

        /// <summary>Releases, oldest first.</summary>
        public IReadOnlyList<string> Releases => _releases;

        /// <summary>Position of a release in <see cref="Releases"/>; -1 when unknown.</summary>
        public int ReleaseIndex(string release) =>
            _releases.FindIndex(r => string.Equals(r, release, StringComparison.OrdinalIgnoreCase));

        public int RequireRelease(string release)
        {
            int i = ReleaseIndex(release);
            if (i < 0)
                throw new Errors.DfException("ReleaseUnknown", Errors.DfErrorCategory.InvalidArgument,
                    $"Unknown release '{release}'. Known releases: {(_releases.Count == 0 ? "none" : string.Join(", ", _releases))}.", release,
                    "Name one of the known releases, or give -MigrationPath the folder of the migrations that define it.");
            return i;
        }
    }
}
