using System.Collections.Generic;
using System.Linq;
using DragonflowUpgrade.Engine.Errors;
using System.Text.RegularExpressions;

namespace DragonflowUpgrade.Remote
{
    /// <summary>
    /// A command of an inventory (or -UpdateCommand, -RevertCommand), with placeholders ({service},
    /// {node}, {chassis}) replaced by those names. What is guaranteed: a value goes in only if it is
    /// a name as the inventory checks names (ASCII letters, digits, ':', '-', '_', '.', '@',
    /// starting with a letter or digit, not empty), which no POSIX shell reads as syntax, so it
    /// stays one literal word (or part of one) wherever the operator's own quoting puts it; any other
    /// value is refused (<see cref="ValueInvalidId"/>), never escaped. The template itself is not
    /// parsed: what the operator wrote around a placeholder (a '#' comment, a nested sh -c '…') runs
    /// as written. A placeholder the template's kind does not know is refused (a typo would
    /// otherwise reach the node as literal text), and so is one right after '$', which the shell
    /// would read as a variable.
    /// </summary>
    sealed class CommandTemplate
    {
        public static readonly string[] Placeholders = { "service", "node", "chassis" };
        public const string UnsafeId = "InventoryPlaceholderUnsafe";
        public const string UnknownId = "InventoryPlaceholderUnknown";
        public const string ValueInvalidId = "InventoryPlaceholderValueInvalid";

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

        /// <summary>The command with {service}, {node} and {chassis} replaced by those names (see <see cref="Fill(IReadOnlyDictionary{string, string})"/>).</summary>
        public string Fill(string service, string node, string chassis) =>
            Fill(new Dictionary<string, string> { ["service"] = service, ["node"] = node, ["chassis"] = chassis });

        /// <summary>
        /// The command with each placeholder given replaced by its value; a shell ${VAR} and a
        /// placeholder not given (Neutron's {password}, filled where the command runs) are left alone.
        /// Throws <see cref="ValueInvalidId"/> when a value the template uses is not a name (empty included).
        /// </summary>
        public string Fill(IReadOnlyDictionary<string, string> values) =>
            Placeholder.Replace(Text, m =>
            {
                string name = m.Groups[1].Value;
                if (!_placeholders.Contains(name) || !values.TryGetValue(name, out string? value)) return m.Value;
                if (Inventory.CommandNameProblem(value, Sources.TryGetValue(name, out string? what) ? what : name + " value") is string problem)
                    throw new DfException(ValueInvalidId, DfErrorCategory.InvalidArgument,
                        $"{{{name}}} in {Field ?? "the built-in command"} cannot be filled: {problem}", Field,
                        "Take the nodes from the inventory (Get-DfNode), whose names are checked; nothing was run.");
                return value!;
            });

        // Where each placeholder's value comes from, as the refusal names it.
        static readonly Dictionary<string, string> Sources = new Dictionary<string, string>
        {
            ["service"] = "service name", ["node"] = "node name", ["chassis"] = "chassis name",
        };

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
