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

        /// <summary>Unique id of the migration: a letter or digit, then letters, digits, '.', '_' and '-'.</summary>
        public string Id { get; }

        /// <summary>Release the migration belongs to, such as <c>queens</c>.</summary>
        public string Release { get; }

        /// <summary>When it was written, ISO 8601 UTC (<c>2017-09-01T00:00:00Z</c>); migrations run in this order, then by id.</summary>
        public string ProposedAt { get; }

        /// <summary>What the migration does, for the operator.</summary>
        public string? Description { get; set; }

        /// <summary>
        /// The schema changes this migration takes care of, as <c>table.field:Kind</c> or
        /// <c>table:Kind</c> (<c>lswitch.subnets:FieldRemoved</c>; the kinds are
        /// <see cref="Schema.SchemaChangeKind"/>'s names). A release upgrade that needs a change no
        /// migration handles is refused; a handle that names no schema change makes the migration malformed.
        /// </summary>
        public string[]? Handles { get; set; }
    }
}
