using System.Collections.Generic;
using DragonflowUpgrade.Engine.Json;

namespace DragonflowUpgrade.Engine.Migrations
{
    /// <summary>
    /// What a migration acts on: the spec's <c>nb_api</c>, over the in-memory snapshot of the NB
    /// database. Objects handed out are copies (see <see cref="NbObject"/> for their values): a
    /// change counts only once passed to <see cref="Update"/>. Ids are unique within a table,
    /// whatever the topic.
    /// </summary>
    public interface INbApi
    {
        /// <summary>The tables that hold at least one object.</summary>
        IReadOnlyCollection<string> Tables { get; }

        /// <summary>Every object of a table as it is when called, in id order.</summary>
        IEnumerable<NbObject> GetAll(string table);

        /// <summary>One object, or null when the table has no object with that id.</summary>
        NbObject? Get(string table, string id);

        /// <summary>Adds an object; its <c>id</c> must be new to the table. Its <c>topic</c>, if any, is its key's topic.</summary>
        void Create(string table, NbObject obj);

        /// <summary>Replaces the object with the same <c>id</c>.</summary>
        void Update(string table, NbObject obj);

        /// <summary>Removes an object.</summary>
        void Delete(string table, string id);

        /// <summary>Tells the operator something the run's output must show, such as a step to take after the upgrade.</summary>
        void Warn(string message);
    }
}
