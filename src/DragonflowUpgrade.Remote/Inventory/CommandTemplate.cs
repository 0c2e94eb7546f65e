using System.Linq;
using System.Text.RegularExpressions;

namespace DragonflowUpgrade.Remote
{
    /// <summary>
    /// A command of an inventory, with placeholders ({service}, {node}, {chassis}) replaced by
    /// those names. The inventory and Inventory.Check admit only names that hold no character a
    /// shell treats specially, so a name goes in as it is, quoted or not; anything else would be
    /// escaped for where the placeholder stands (<see cref="ForShell"/>), so that no value is ever
    /// read as shell syntax. A placeholder the module does not know is refused (a typo would
    /// otherwise reach the node as literal text), and so is one right after '$', which the shell
    /// would read as a variable.
    /// </summary>
    sealed class CommandTemplate
    {
        public static readonly string[] Placeholders = { "service", "node", "chassis" };
        public const string UnsafeId = "InventoryPlaceholderUnsafe";
        public const string UnknownId = "InventoryPlaceholderUnknown";

        // Any {identifier}: every one must be known (but for a shell ${VAR}), and every known one is replaced.
        static readonly Regex Placeholder = new Regex(@"\{([A-Za-z_][A-Za-z0-9_]*)\}", RegexOptions.CultureInvariant);

        readonly string[] _placeholders;

        /// <param name="placeholders">The placeholders the command may hold; by default a service command's.</param>
        public CommandTemplate(string text, string? field, int line, string[]? placeholders = null)
        {
            Text = text;
            Field = field;
            Line = line;
            _placeholders = placeholders ?? Placeholders;
            (ProblemId, Problem) = Check(text, _placeholders);
        }

        public string Text { get; }
        /// <summary>Where the inventory gave it (e.g. Services.x.Start), and its line; null for a built-in default.</summary>
        public string? Field { get; }
        public int Line { get; }
        /// <summary>Why the template cannot be used, or null.</summary>
        public string? Problem { get; }
        /// <summary>The error id of <see cref="Problem"/>, or null.</summary>
        public string? ProblemId { get; }

        /// <summary>The command with {service}, {node} and {chassis} replaced by those names.</summary>
        public string Fill(string service, string node, string chassis) =>
            Fill(new System.Collections.Generic.Dictionary<string, string> { ["service"] = service, ["node"] = node, ["chassis"] = chassis });

        /// <summary>The command with each placeholder given replaced by its value (see the class summary); a shell ${VAR} is left alone.</summary>
        public string Fill(System.Collections.Generic.IReadOnlyDictionary<string, string> values) =>
            Placeholder.Replace(Text, m => values.TryGetValue(m.Groups[1].Value, out string? v) && _placeholders.Contains(m.Groups[1].Value)
                ? ForShell(Text, m.Index, v ?? "") : m.Value);

        /// <summary>
        /// <paramref name="value"/> escaped for a POSIX shell at <paramref name="index"/> of
        /// <paramref name="command"/>: inside '…' or "…" escaped for those quotes, outside them
        /// quoted unless it holds only characters no shell treats specially (a checked name does).
        /// </summary>
        internal static string ForShell(string command, int index, string value)
        {
            char quote = '\0';
            for (int i = 0; i < index; i++)
            {
                char c = command[i];
                if (quote == '\'') { if (c == '\'') quote = '\0'; }
                else if (c == '\\') i++; // outside quotes or in "…", a backslash takes the next character as it is
                else if (quote == '"') { if (c == '"') quote = '\0'; }
                else if (c == '\'' || c == '"') quote = c;
            }
            if (quote == '\'') return value.Replace("'", "'\\''");
            if (quote == '"') return Regex.Replace(value, "[\"\\\\$`]", "\\$0");
            return value.All(IsPlain) ? value : ShellQuote.Quote(value);
        }

        static bool IsPlain(char c) => (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || "-_.:@/+,=%".IndexOf(c) >= 0;

        static (string? Id, string? Problem) Check(string s, string[] placeholders)
        {
            foreach (Match m in Placeholder.Matches(s))
            {
                bool shellParameter = m.Index > 0 && s[m.Index - 1] == '$';
                if (!placeholders.Contains(m.Groups[1].Value))
                {
                    if (shellParameter) continue;
                    return (UnknownId, $"{m.Value} is not a placeholder: use {string.Join(", ", placeholders.Select(p => "{" + p + "}"))} (a literal brace pair needs a space inside, as in '{{ print }}')");
                }
                if (shellParameter)
                    return (UnsafeId, $"the placeholder {m.Value} follows '$', so the shell would read it as a variable: write {m.Value} for the name, or a variable under another name");
            }
            return (null, null);
        }
    }
}
