using System.Collections.Generic;
using System.Reflection;
using DragonflowUpgrade.Engine.Migrations;

namespace DragonflowUpgrade.Dragonflow
{
    /// <summary>Dragonflow's releases, oldest first, and the migrations shipped for them.</summary>
    public static class DragonflowReleases
    {
        /// <summary>The release names Dragonflow's tags and branches carry (4.0.0 is pike, 5.0.0 queens).</summary>
        public static IReadOnlyList<string> All { get; } = new[] { "ocata", "pike", "queens", "rocky" };

        /// <summary>The compiled migrations between Dragonflow releases.</summary>
        public static IEnumerable<Migration> Migrations => AssemblyMigrations.Load(typeof(DragonflowReleases).Assembly);
    }
}
