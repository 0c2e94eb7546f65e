
namespace DragonflowUpgrade.Engine.Migrations
{
    /// <summary>
    /// A compiled migration: a public class with a constructor without parameters. Its metadata
    /// is a <see cref="MigrationAttribute"/> on the class.
    /// </summary>
    public interface IMigration
    {
        /// <summary>
        /// Changes the NB database through <paramref name="nbApi"/>, an in-memory snapshot of it:
        /// nothing is written unless every migration of the run succeeds. An exception stops the
        /// run, naming this migration, and nothing is written.
        /// </summary>
        void Apply(INbApi nbApi);
    }
}
