using System;
using System.Collections;
using System.Collections.Generic;
using System.IO;
using System.Collections.ObjectModel;
using System.Linq;
using System.Management.Automation;
using System.Management.Automation.Runspaces;
using System.Text;
using DragonflowUpgrade.Engine.Migrations;
using DragonflowUpgrade.Engine.Store;

namespace DragonflowUpgrade.PowerShell.Scripting
{
    /// <summary>
    /// Loads <c>.ps1</c> migrations: each file evaluates to a hashtable with Id, Release,
    /// Description, ProposedAt, Apply (a script block taking $NbApi) and optionally Handles.
    /// </summary>
    public static class ScriptMigrations
    {
        static readonly string[] Keys = { "Id", "Release", "Description", "ProposedAt", "Apply", "Handles" };

        // Runs Apply with errors made terminating, so that a Write-Error fails the migration.
        static readonly ScriptBlock Runner = ScriptBlock.Create("param($__apply, $__nbApi) $ErrorActionPreference = 'Stop'; & $__apply $__nbApi | Out-Null");

        /// <summary>Every migration of every folder, compiled (.dll) or script (.ps1), sorted by file name within a folder.</summary>
        public static IEnumerable<Migration> LoadFolders(PSCmdlet cmdlet, IEnumerable<string>? folders)
        {
            foreach (var folder in folders ?? Enumerable.Empty<string>())
            {
                string dir = cmdlet.SessionState.Path.GetUnresolvedProviderPathFromPSPath(folder);
                if (!Directory.Exists(dir))
                    throw new MigrationDefinitionException(dir, "no such migration folder.");
                foreach (var file in Files(dir))
                {
                    if (IsScript(file)) yield return Load(cmdlet, file);
                    else foreach (var m in AssemblyMigrations.LoadFile(file)) yield return m;
                }
            }
        }

        /// <summary>A migration folder's files, script (.ps1) and compiled (.dll), in the order they load: by file name.</summary>
        public static IEnumerable<string> Files(string dir) =>
            Directory.GetFiles(dir).Where(f => IsScript(f) || f.EndsWith(".dll", StringComparison.OrdinalIgnoreCase)).OrderBy(f => f, StringComparer.Ordinal);

        public static bool IsScript(string file) => file.EndsWith(".ps1", StringComparison.OrdinalIgnoreCase);

        public static Migration Load(PSCmdlet cmdlet, string path)
        {
            // Reading a pipe would wait for a writer: the run would hang before saying anything.
            if (!Engine.Store.FileModes.IsRegularFile(path))
                throw new MigrationDefinitionException(path, "it is not a regular file (a pipe, socket or device); a migration is a .ps1 or .dll file.");
            byte[] bytes = File.ReadAllBytes(path);
            Collection<PSObject> result;
            try
            {
                result = cmdlet.InvokeCommand.InvokeScript("& $args[0]", true, PipelineResultTypes.None, null, path);
            }
            catch (RuntimeException e)
            {
                throw new MigrationDefinitionException(path, "evaluating it failed: " + Describe(e), e);
            }
            catch (ExitException e)
            {
                throw new MigrationDefinitionException(path, $"evaluating it ran 'exit {e.Argument}'. A migration file evaluates to its hashtable and never exits; report a problem with throw.", e);
            }
            var values = result.Where(r => r != null).ToList();
            if (values.Count != 1 || !(values[0].BaseObject is IDictionary table))
                throw new MigrationDefinitionException(path, "a migration file must evaluate to exactly one hashtable: @{ Id = ...; Release = ...; Description = ...; ProposedAt = ...; Apply = { param($NbApi) ... } }.");

            var given = table.Keys.Cast<object>().Select(k => k.ToString()).ToList();
            var unknown = given.Where(k => !Keys.Contains(k, StringComparer.OrdinalIgnoreCase)).ToList();
            if (unknown.Count > 0)
                throw new MigrationDefinitionException(path, $"unknown key(s) {string.Join(", ", unknown)}; a migration has {string.Join(", ", Keys)}.");

            // A key left out is "", which ValidateMetadata refuses as it refuses an empty one.
            string id = Text(table, "Id") ?? "", release = Text(table, "Release") ?? "";
            var proposed = Migration.ValidateMetadata(path, id, release, Text(table, "ProposedAt") ?? "");
            if (!(Value(table, "Apply") is ScriptBlock apply))
                throw new MigrationDefinitionException(path, $"migration '{id}' has no Apply script block: Apply = {{ param($NbApi) ... }}.");
            var handles = Value(table, "Handles");
            var handleList = handles == null ? new List<string>()
                : handles is string s ? new List<string> { s }
                : handles is IEnumerable many ? many.Cast<object?>().Select(o => o?.ToString() ?? "").ToList()
                : new List<string> { handles.ToString() ?? "" };

            return new Migration(id, release, Text(table, "Description"), proposed, handleList,
                Checksum(bytes), path, nb => Run(apply, nb));
        }

        static void Run(ScriptBlock apply, INbApi nb)
        {
            try { Runner.Invoke(apply, new ScriptNbApi(nb)); }
            catch (RuntimeException e) { throw new InvalidOperationException(Describe(e), e); }
            // Without this, PowerShell's own message for it is "System error.".
            catch (ExitException e) { throw new InvalidOperationException($"its Apply ran 'exit {e.Argument}'. A migration fails with throw (or Write-Error), never exit, which would end the session.", e); }
        }

        /// <summary>The error and where in the script it happened.</summary>
        static string Describe(RuntimeException e)
        {
            var inner = e;
            while (inner.InnerException is RuntimeException r) inner = r;
            string message = (inner.InnerException ?? inner).Message;
            var position = inner.ErrorRecord?.InvocationInfo;
            if (position != null && position.ScriptName != null && position.ScriptLineNumber > 0)
                message += $" (at {position.ScriptName}:{position.ScriptLineNumber})";
            return message;
        }

        static object? Value(IDictionary table, string key)
        {
            foreach (DictionaryEntry e in table)
                if (string.Equals(e.Key.ToString(), key, StringComparison.OrdinalIgnoreCase))
                    return e.Value is PSObject p ? p.BaseObject : e.Value;
            return null;
        }

        static string? Text(IDictionary table, string key) => Value(table, key)?.ToString();

        /// <summary>SHA-256 of the file's text, ignoring a byte-order mark and line-ending style.</summary>
        public static string Checksum(byte[] bytes)
        {
            string text = new UTF8Encoding(false).GetString(bytes).TrimStart('\uFEFF').Replace("\r\n", "\n");
            return ContentHash.Of(Encoding.UTF8.GetBytes(text));
        }
    }
}
