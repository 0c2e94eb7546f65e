namespace DragonflowUpgrade.Engine.Migrations
{
    /// <summary>A compiled migration. Its metadata is a <see cref="MigrationAttribute"/> on the class.</summary>
    public interface IMigration
    {
        void Apply(INbApi nbApi);
    }
}
