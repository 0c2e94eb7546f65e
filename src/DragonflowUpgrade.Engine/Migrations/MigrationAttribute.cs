using System;

namespace DragonflowUpgrade.Engine.Migrations
{
    /// <summary>The SchemaMigrationLog metadata of a compiled migration.</summary>
    [AttributeUsage(AttributeTargets.Class, Inherited = false)]
    public sealed class MigrationAttribute : Attribute
    {
        /// <param name="id">Unique id of the migration.</param>
        /// <param name="release">Release the migration belongs to.</param>
        /// <param name="proposedAt">When it was written, ISO 8601 UTC; orders migrations.</param>
        public MigrationAttribute(string id, string release, string proposedAt)
        {
            Id = id;
            Release = release;
            ProposedAt = proposedAt;
        }

        public string Id { get; }
        public string Release { get; }
        public string ProposedAt { get; }
        public string Description { get; set; }

        /// <summary>The schema changes this migration takes care of, as <c>table.field:Change</c> or <c>table:Change</c>.</summary>
        public string[] Handles { get; set; }
    }
}
