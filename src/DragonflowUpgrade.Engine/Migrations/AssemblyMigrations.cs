using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Reflection;

namespace DragonflowUpgrade.Engine.Migrations
{
    /// <summary>Finds the compiled migrations of an assembly: public classes implementing <see cref="IMigration"/> with a <see cref="MigrationAttribute"/>.</summary>
    public static class AssemblyMigrations
    {
        public static IEnumerable<Migration> Load(Assembly assembly)
        {
            string file = Path.GetFileName(assembly.Location);
            Type[] types;
            try { types = assembly.GetTypes(); }
            catch (ReflectionTypeLoadException e) { types = e.Types.OfType<Type>().ToArray(); }
            foreach (var type in types.Where(t => typeof(IMigration).IsAssignableFrom(t) && !t.IsAbstract && !t.IsInterface).OrderBy(t => t.FullName))
            {
                string source = $"{file}: {type.FullName}";
                var meta = type.GetCustomAttribute<MigrationAttribute>()
                    ?? throw new MigrationDefinitionException(source, "a migration class needs a [Migration(id, release, proposedAt)] attribute.");
                if (type.GetConstructor(Type.EmptyTypes) == null)
                    throw new MigrationDefinitionException(source, "a migration class needs a public constructor without parameters.");
                var proposed = Migration.ValidateMetadata(source, meta.Id, meta.Release, meta.ProposedAt);
                var t = type;
                yield return new Migration(meta.Id, meta.Release, meta.Description, proposed, meta.Handles, null, source,
                    nb => ((IMigration)Activator.CreateInstance(t)!).Apply(nb)); // a public constructor without parameters: checked above
            }
        }

        /// <summary>Loads the migrations of an assembly file found in a migration folder.</summary>
        public static IEnumerable<Migration> LoadFile(string path)
        {
            Assembly assembly;
            try { assembly = Assembly.LoadFrom(path); }
            catch (Exception e) when (e is BadImageFormatException || e is FileLoadException || e is FileNotFoundException)
            {
                throw new MigrationDefinitionException(path, "not a .NET assembly that can be loaded: " + e.Message, e);
            }
            return Load(assembly);
        }
    }
}
