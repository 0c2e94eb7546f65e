using System.Collections.Concurrent;
using System.Management.Automation.Runspaces;
using System.Runtime.CompilerServices;
using DragonflowUpgrade.Engine.Store;

namespace DragonflowUpgrade.PowerShell
{
    /// <summary>
    /// The <c>-Database</c> values typed in this runspace, by their redacted form. A cmdlet keeps
    /// and prints only the redacted form (in its errors and in the <c>Database</c> property of its
    /// output), so a password never leaves what the user typed; the next cmdlet of a pipeline
    /// binds that form by property name and finds the password here.
    /// </summary>
    static class DatabaseSecrets
    {
        static readonly object NoRunspace = new object();
        static readonly ConditionalWeakTable<object, ConcurrentDictionary<string, string>> Typed =
            new ConditionalWeakTable<object, ConcurrentDictionary<string, string>>();

        static ConcurrentDictionary<string, string> Map =>
            Typed.GetValue((object)Runspace.DefaultRunspace ?? NoRunspace, _ => new ConcurrentDictionary<string, string>());

        /// <summary>
        /// The redacted form of <paramref name="typed"/>; remembers what it stands for when that
        /// differs and it is a URI that parses (a mistyped one would only shadow a good one).
        /// </summary>
        public static string? Remember(string? typed)
        {
            if (typed == null) return null;
            string display = NbDatabaseUri.Redact(typed);
            if (display == typed) return display;
            try
            {
                NbDatabaseUri.Parse(typed);
                Map[display] = typed;
            }
            catch (NbDatabaseUriException) { }
            return display;
        }

        /// <summary>
        /// What to open for a -Database value: the value itself, unless it is a redacted form that
        /// this runspace has seen typed with its password.
        /// </summary>
        public static string Recall(string value)
        {
            if (NbDatabaseUri.Redact(value) != value) return value;
            return Map.TryGetValue(value, out var typed) ? typed : value;
        }
    }
}
