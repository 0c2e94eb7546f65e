using System;
using System.Collections;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Management.Automation;
using System.Management.Automation.Language;
using DragonflowUpgrade.Dragonflow;
using DragonflowUpgrade.Engine.Store;
using DragonflowUpgrade.PowerShell.Cmdlets;
using DragonflowUpgrade.PowerShell.Scripting;

namespace DragonflowUpgrade.PowerShell
{
    /// <summary>
    /// Tab completion of a parameter whose values the module can list. It never fails: what it
    /// cannot read (a database that is down, a malformed inventory) it leaves out.
    /// </summary>
    public abstract class DfCompleter : IArgumentCompleter
    {
        public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
                                                              CommandAst commandAst, IDictionary fakeBoundParameters)
        {
            var typed = new WildcardPattern(WildcardPattern.Escape((wordToComplete ?? "").Trim('\'', '"')) + "*", WildcardOptions.IgnoreCase);
            List<string> values;
            try { values = Values(fakeBoundParameters ?? new Hashtable()).ToList(); }
            catch (Exception e) when (!(e is OutOfMemoryException)) { values = new List<string>(); }
            return values.Where(v => !string.IsNullOrEmpty(v) && typed.IsMatch(v))
                .Distinct(StringComparer.OrdinalIgnoreCase).OrderBy(v => v, StringComparer.OrdinalIgnoreCase)
                .Select(v => new CompletionResult(Quote(v), v, CompletionResultType.ParameterValue, v));
        }

        /// <summary>Every value the parameter may take, given the parameters bound so far.</summary>
        protected abstract IEnumerable<string> Values(IDictionary bound);

        /// <summary>The values bound to a parameter, as text; empty when it is not bound.</summary>
        protected static string[] Bound(IDictionary bound, string name)
        {
            object? value = bound.Contains(name) ? bound[name] : null;
            if (value is PSObject o) value = o.BaseObject;
            var values = value is IEnumerable list && !(value is string) ? list.Cast<object?>() : new[] { value };
            return values.Select(v => v?.ToString()).OfType<string>().ToArray();
        }

        /// <summary>Runs a script in the session that asked for completion (its location, its variables).</summary>
        protected static IEnumerable<string> RunScript(string script, params object[] args) =>
            ScriptBlock.Create(script).Invoke(args).Select(o => o?.BaseObject.ToString()).OfType<string>();

        static string Quote(string v) =>
            v.All(c => char.IsLetterOrDigit(c) || c == '-' || c == '_' || c == '.') ? v : "'" + v.Replace("'", "''") + "'";

        /// <summary>A path as the session resolves it (its location, its drives).</summary>
        protected static string ProviderPath(string path) =>
            RunScript("$ExecutionContext.SessionState.Path.GetUnresolvedProviderPathFromPSPath($args[0])", path).First();

        /// <summary>
        /// The Id or Release of every migration the module ships and of the -MigrationPath folders bound. A .ps1
        /// migration is parsed, never run (completion must not execute an operator's script): its value is read
        /// where the hashtable the script evaluates to gives it as a constant string.
        /// </summary>
        protected static IEnumerable<string> Migrations(IDictionary bound, Func<Engine.Migrations.Migration, string> shipped, string key) =>
            DragonflowReleases.Migrations.Select(shipped).Concat(Bound(bound, "MigrationPath").Select(ProviderPath).Where(Directory.Exists)
                .SelectMany(ScriptFiles).Select(file => StaticValue(file, key)).OfType<string>());

        const int MaxScriptBytes = 1 << 20;

        // A folder that cannot be listed is left out, not the other folders and the shipped migrations with it.
        static IEnumerable<string> ScriptFiles(string dir)
        {
            try { return ScriptMigrations.Files(dir).Where(ScriptMigrations.IsScript).ToList(); }
            catch (Exception e) when (e is IOException || e is UnauthorizedAccessException) { return Enumerable.Empty<string>(); }
        }

        // ParseFile reports a file it cannot read as a parse error: such a file is left out as one that does not parse is.
        // So are a file that is not a regular one (reading a pipe would wait for a writer) and one larger than any
        // migration script (each Tab parses every file again); and a value holding a control character, which the
        // terminal would act on.
        static string? StaticValue(string file, string key)
        {
            if (!Engine.Store.FileModes.IsRegularFile(file) || new FileInfo(file).Length > MaxScriptBytes) return null;
            var script = Parser.ParseFile(file, out _, out var errors);
            if (errors.Length > 0 || !((script.EndBlock?.Statements.LastOrDefault() as PipelineAst)?.GetPureExpression() is HashtableAst table)) return null;
            return table.KeyValuePairs
                .Where(p => p.Item1 is StringConstantExpressionAst k && string.Equals(k.Value, key, StringComparison.OrdinalIgnoreCase))
                .Select(p => ((p.Item2 as PipelineAst)?.GetPureExpression() as StringConstantExpressionAst)?.Value).FirstOrDefault(v => v != null && !v.Any(char.IsControl));
        }
    }

    /// <summary>Releases: Dragonflow's, and those of the migrations in -MigrationPath.</summary>
    public sealed class ReleaseCompleter : DfCompleter
    {
        protected override IEnumerable<string> Values(IDictionary bound) =>
            DragonflowReleases.All.Concat(Migrations(bound, m => m.Release, "Release"));
    }

    /// <summary>Migration ids: the shipped ones, and those in -MigrationPath.</summary>
    public sealed class MigrationIdCompleter : DfCompleter
    {
        protected override IEnumerable<string> Values(IDictionary bound) => Migrations(bound, m => m.Id, "Id");
    }

    /// <summary>
    /// NB tables: those of -Database when it is given (a scan of its keys, in batches), else those
    /// of the schema of -Release, else of the newest release the module knows.
    /// </summary>
    public sealed class TableCompleter : DfCompleter
    {
        protected override IEnumerable<string> Values(IDictionary bound)
        {
            string? database = Bound(bound, "Database").FirstOrDefault();
            if (database != null)
            {
                using (var store = NbStoreFactory.Open(DatabaseSecrets.Recall(database), null, null, ProviderPath))
                    return store.ReadKeys().Select(k => k.Table).Distinct().ToList();
            }
            string release = Bound(bound, "Release").FirstOrDefault() ?? DragonflowReleases.All.Last();
            return DragonflowReleases.Schema(release)?.Tables.Keys ?? Enumerable.Empty<string>();
        }
    }

    /// <summary>Node names of the -Inventory file bound.</summary>
    public sealed class NodeNameCompleter : DfCompleter
    {
        protected override IEnumerable<string> Values(IDictionary bound) => Nodes(bound).Select(n => n.Name);

        internal static IEnumerable<Remote.DfNode> Nodes(IDictionary bound)
        {
            string? inventory = Bound(bound, "Inventory").FirstOrDefault();
            if (inventory == null) return Enumerable.Empty<Remote.DfNode>();
            string path = ProviderPath(inventory);
            return File.Exists(path) ? PsdInventory.Load(path) : Enumerable.Empty<Remote.DfNode>();
        }
    }

    /// <summary>Roles of the nodes of the -Inventory file bound.</summary>
    public sealed class RoleCompleter : DfCompleter
    {
        protected override IEnumerable<string> Values(IDictionary bound) => NodeNameCompleter.Nodes(bound).SelectMany(n => n.Roles);
    }
}
