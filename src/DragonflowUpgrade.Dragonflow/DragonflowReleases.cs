using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Linq;
using DragonflowUpgrade.Engine.Migrations;
using DragonflowUpgrade.Engine.Schema;

namespace DragonflowUpgrade.Dragonflow
{
    /// <summary>Dragonflow's releases, oldest first, their schemas, and the migrations shipped for them.</summary>
    public static class DragonflowReleases
    {
        /// <summary>
        /// The releases whose NB schema the module knows: tag 4.0.0 is pike, 5.0.0 queens, and master
        /// Dragonflow's final code (2019-08-13), which stores the same data as queens under other Redis keys.
        /// </summary>
        public static IReadOnlyList<string> All { get; } = new[] { "pike", "queens", "master" };

        /// <summary>
        /// The schema a run without -TargetRelease goes to: queens, the last tagged release. Master
        /// rewrites every Redis key into a layout that queens' code cannot read, so it is never a default.
        /// </summary>
        public const string DefaultTarget = "queens";

        /// <summary>The release before <paramref name="release"/>; null for the oldest one, or one the module does not know.</summary>
        public static string? Before(string? release)
        {
            int i = All.ToList().FindIndex(r => string.Equals(r, release, StringComparison.OrdinalIgnoreCase));
            return i > 0 ? All[i - 1] : null;
        }

        static readonly ConcurrentDictionary<string, SchemaManifest?> Loaded = new ConcurrentDictionary<string, SchemaManifest?>(StringComparer.OrdinalIgnoreCase);

        /// <summary>The compiled migrations between Dragonflow releases.</summary>
        public static IEnumerable<Migration> Migrations => AssemblyMigrations.Load(typeof(DragonflowReleases).Assembly);

        /// <summary>A Dragonflow release's schema manifest, or null for a release the module has none for.</summary>
        public static SchemaManifest? Schema(string? release) =>
            release == null ? null : Loaded.GetOrAdd(release, r =>
            {
                using (var s = typeof(DragonflowReleases).Assembly.GetManifestResourceStream("Schemas." + r.ToLowerInvariant() + ".json"))
                    return s == null ? null : SchemaManifest.Load(s, r.ToLowerInvariant() + ".json");
            });
    }
}
