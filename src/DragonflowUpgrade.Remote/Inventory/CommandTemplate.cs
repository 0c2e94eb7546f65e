using System.Linq;
using System.Text.RegularExpressions;

namespace DragonflowUpgrade.Remote
{
    /// <summary>
    /// A command of an inventory, with placeholders ({service}, {node}, {chassis}) replaced by
    /// those names as they are. That is safe anywhere in the command, quoted or not, because the
    /// inventory admits only names that hold no character a shell treats specially (see
    /// Inventory.CheckName). A placeholder the module does not know is refused (a typo would
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
        public CommandTemplate(string text, string field, int line, string[] placeholders = null)
        {
            Text = text;
            Field = field;
            Line = line;
            _placeholders = placeholders ?? Placeholders;
            (ProblemId, Problem) = Check(text, _placeholders);
        }

        public string Text { get; }
        /// <summary>Where the inventory gave it (e.g. Services.x.Start), and its line; null for a built-in default.</summary>
        public string Field { get; }
        public int Line { get; }
        /// <summary>Why the template cannot be used, or null.</summary>
        public string Problem { get; }
        public string ProblemId { get; }

        /// <summary>The command for names the inventory has checked.</summary>
        public string Fill(string service, string node, string chassis) =>
            Placeholder.Replace(Text, m =>
            {
                switch (m.Groups[1].Value)
                {
                    case "service": return service;
                    case "node": return node;
                    case "chassis": return chassis;
                    default: return m.Value; // a shell ${VAR}: Check allows nothing else
                }
            });

        /// <summary>The command with each placeholder given replaced by its value, as it is (see the class summary).</summary>
        public string Fill(System.Collections.Generic.IReadOnlyDictionary<string, string> values) =>
            Placeholder.Replace(Text, m => values.TryGetValue(m.Groups[1].Value, out string v) ? v : m.Value);

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
