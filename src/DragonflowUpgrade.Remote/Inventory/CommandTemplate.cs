using System.Collections.Generic;
using System.Linq;
using System.Text.RegularExpressions;

namespace DragonflowUpgrade.Remote
{
    /// <summary>
    /// A command of an inventory, with placeholders ({service}, {node}, {chassis}) that are
    /// replaced by shell-quoted values. Quoting is only safe where the quoted value stands as
    /// a shell word of its own: inside quotes, after a backslash or '$', or glued to other
    /// text, the quotes the module adds would close or change the template's own, and the
    /// value would run as code. So such a template is refused, and so is a placeholder the
    /// module does not know (a typo would otherwise reach the node as literal text).
    /// </summary>
    sealed class CommandTemplate
    {
        public static readonly string[] Placeholders = { "service", "node", "chassis" };
        public const string UnsafeId = "InventoryPlaceholderUnsafe";
        public const string UnknownId = "InventoryPlaceholderUnknown";

        // Any {identifier}: every one must be known, and every known one is replaced.
        static readonly Regex Placeholder = new Regex(@"\{([A-Za-z_][A-Za-z0-9_]*)\}", RegexOptions.CultureInvariant);
        const string Operators = ";&|()<>";

        public CommandTemplate(string text, string field, int line)
        {
            Text = text;
            Field = field;
            Line = line;
            (ProblemId, Problem) = Check(text);
        }

        public string Text { get; }
        /// <summary>Where the inventory gave it (e.g. Services.x.Start), and its line; null for a built-in default.</summary>
        public string Field { get; }
        public int Line { get; }
        /// <summary>Why the template cannot be used, or null.</summary>
        public string Problem { get; }
        public string ProblemId { get; }

        public string Fill(string service, string node, string chassis) =>
            Placeholder.Replace(Text, m =>
            {
                switch (m.Groups[1].Value)
                {
                    case "service": return ShellQuote.Quote(service);
                    case "node": return ShellQuote.Quote(node);
                    case "chassis": return ShellQuote.Quote(chassis);
                    default: return m.Value; // a shell ${VAR}: Check allows nothing else
                }
            });

        enum Context { Top, Paren, Substitution, Single, Double, AnsiC, Backquote, Parameter, Comment }

        /// <summary>
        /// Reads the template as a POSIX shell would, far enough to know where each placeholder
        /// stands; returns the first that is not a plain word of the command, or an unknown one.
        /// </summary>
        static (string Id, string Problem) Check(string s)
        {
            var at = new Dictionary<int, Match>();
            foreach (Match m in Placeholder.Matches(s))
            {
                bool shellParameter = m.Index > 0 && s[m.Index - 1] == '$';
                if (!Placeholders.Contains(m.Groups[1].Value))
                {
                    if (shellParameter) continue;
                    return (UnknownId, $"{m.Value} is not a placeholder: use {string.Join(", ", Placeholders.Select(p => "{" + p + "}"))} (a literal brace pair needs a space inside, as in '{{ print }}')");
                }
                at[m.Index] = m;
            }
            if (at.Count == 0) return (null, null);

            var stack = new Stack<Context>();
            stack.Push(Context.Top);
            bool wordStart = true, hereDocument = false;
            for (int i = 0; i < s.Length; i++)
            {
                var context = stack.Peek();
                if (at.TryGetValue(i, out var p))
                {
                    string where = Where(context, hereDocument, wordStart);
                    if (where == null)
                    {
                        int end = i + p.Length;
                        if (end < s.Length && !IsBlank(s[end]) && Operators.IndexOf(s[end]) < 0)
                            where = $"runs into the text after it ('{s[end]}')";
                    }
                    if (where != null)
                        return (UnsafeId, $"the placeholder {p.Value} {where}: it must be a word of its own, unquoted, as in 'systemctl stop {p.Value}' (the module quotes the value itself)");
                    i += p.Length - 1;
                    wordStart = false;
                    continue;
                }
                char c = s[i];
                char next = i + 1 < s.Length ? s[i + 1] : '\0';
                if (c == '$' && context != Context.Single && context != Context.Comment && at.TryGetValue(i + 1, out var after))
                    return (UnsafeId, $"the placeholder {after.Value} follows '$': it must be a word of its own, as in 'systemctl stop {after.Value}' (the module quotes the value itself)");
                switch (context)
                {
                    case Context.Single:
                        if (c == '\'') stack.Pop();
                        continue;
                    case Context.Comment:
                        if (c == '\n') { stack.Pop(); wordStart = true; }
                        continue;
                    case Context.Parameter:
                        if (c == '}') stack.Pop();
                        continue;
                    case Context.AnsiC:
                    case Context.Backquote:
                        if (c == '\\') { if (at.ContainsKey(i + 1)) return Escaped(at[i + 1]); i++; }
                        else if (c == (context == Context.AnsiC ? '\'' : '`')) stack.Pop();
                        continue;
                    case Context.Double:
                        if (c == '\\') { if (at.ContainsKey(i + 1)) return Escaped(at[i + 1]); i++; }
                        else if (c == '"') stack.Pop();
                        else if (c == '`') stack.Push(Context.Backquote);
                        else if (c == '$' && next == '(') { stack.Push(Context.Substitution); i++; wordStart = true; }
                        else if (c == '$' && next == '{') { stack.Push(Context.Parameter); i++; }
                        continue;
                }
                // Unquoted: at the top, in ( ) or in $( ).
                if (IsBlank(c) || Operators.IndexOf(c) >= 0)
                {
                    if (c == '(') stack.Push(Context.Paren);
                    else if (c == ')' && context != Context.Top) stack.Pop();
                    else if (c == '<' && next == '<' && (i + 2 >= s.Length || s[i + 2] != '<')) hereDocument = true;
                    if (c == '<' && next == '<') i += i + 2 < s.Length && s[i + 2] == '<' ? 2 : 1;
                    wordStart = true;
                    continue;
                }
                if (c == '#' && wordStart) { stack.Push(Context.Comment); continue; }
                wordStart = false;
                if (c == '\\') { if (at.ContainsKey(i + 1)) return Escaped(at[i + 1]); i++; }
                else if (c == '\'') stack.Push(Context.Single);
                else if (c == '"') stack.Push(Context.Double);
                else if (c == '`') stack.Push(Context.Backquote);
                else if (c == '$' && next == '(') { stack.Push(Context.Substitution); i++; wordStart = true; }
                else if (c == '$' && next == '{') { stack.Push(Context.Parameter); i++; }
                else if (c == '$' && next == '\'') { stack.Push(Context.AnsiC); i++; }
                else if (c == '$' && next == '"') { stack.Push(Context.Double); i++; }
            }
            return (null, null);
        }

        static (string, string) Escaped(Match p) =>
            (UnsafeId, $"the placeholder {p.Value} follows a backslash: it must be a word of its own, as in 'systemctl stop {p.Value}' (the module quotes the value itself)");

        static string Where(Context context, bool hereDocument, bool wordStart)
        {
            switch (context)
            {
                case Context.Single: return "stands inside single quotes";
                case Context.Double: return "stands inside double quotes";
                case Context.AnsiC: return "stands inside $'...' quotes";
                case Context.Backquote: return "stands inside backquotes";
                case Context.Parameter: return "stands inside ${...}";
                case Context.Comment: return "stands in a comment";
            }
            if (hereDocument) return "follows a here-document (<<), whose text the shell expands";
            if (!wordStart) return "runs into the text before it";
            return null;
        }

        static bool IsBlank(char c) => c == ' ' || c == '\t' || c == '\n';
    }
}
