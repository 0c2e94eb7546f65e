using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;
using DragonflowUpgrade.Engine.Errors;

namespace DragonflowUpgrade.Dragonflow.Configuration
{
    /// <summary>
    /// An oslo.config INI file (Dragonflow's dragonflow.ini), read as oslo.config reads it:
    /// <c>[group]</c> headers, <c>name = value</c> or <c>name: value</c>, <c>#</c> and <c>;</c>
    /// comments, and continuation lines (indented) that extend the value above them. It keeps
    /// every line as it was, line endings and a byte order mark included, so writing it back
    /// without a change gives the same bytes, and a rename touches nothing but the name.
    /// </summary>
    public sealed class IniFile
    {
        static readonly UTF8Encoding Strict = new UTF8Encoding(false, true);
        static readonly byte[] Bom = { 0xEF, 0xBB, 0xBF };

        readonly List<IniLine> _lines;
        readonly bool _bom;

        IniFile(List<IniLine> lines, bool bom)
        {
            _lines = lines;
            _bom = bom;
        }

        public IReadOnlyList<IniLine> Lines => _lines;

        /// <summary>The options set in the file, in file order, with their values (continuations joined by newlines).</summary>
        public IReadOnlyList<IniOption> Options
        {
            get
            {
                var result = new List<IniOption>();
                for (int i = 0; i < _lines.Count; i++)
                {
                    if (_lines[i].Kind != IniLineKind.Option) continue;
                    var value = new StringBuilder(_lines[i].Value);
                    for (int j = i + 1; j < _lines.Count && _lines[j].Kind == IniLineKind.Continuation; j++)
                        value.Append('\n').Append(_lines[j].Text.TrimStart(' ', '\t').TrimEnd());
                    // Parse gives every option line a group (it refuses one before any [group]) and a name.
                    result.Add(new IniOption(_lines[i].Group!, _lines[i].Name!, value.ToString(), i + 1));
                }
                return result;
            }
        }

        /// <summary>
        /// Reads a file. <paramref name="where"/> names it in errors (e.g. "node01: /etc/neutron/dragonflow.ini");
        /// a line oslo.config would refuse throws <see cref="IniFormatException"/> naming it.
        /// </summary>
        public static IniFile Parse(byte[] bytes, string where)
        {
            bool bom = bytes.Length >= 3 && bytes[0] == Bom[0] && bytes[1] == Bom[1] && bytes[2] == Bom[2];
            string text;
            try { text = Strict.GetString(bytes, bom ? 3 : 0, bytes.Length - (bom ? 3 : 0)); }
            catch (DecoderFallbackException e)
            {
                int line = 1 + bytes.Take(Math.Max(0, e.Index)).Count(b => b == (byte)'\n');
                throw new IniFormatException(where, line, "is not UTF-8 text");
            }

            var lines = new List<IniLine>();
            string? group = null;
            bool inValue = false; // an option's value may go on, on indented lines
            int start = 0, number = 0;
            while (start < text.Length)
            {
                number++;
                int nl = text.IndexOf('\n', start);
                int end = nl < 0 ? text.Length : nl + 1;
                string raw = text.Substring(start, end - start);
                string ending = raw.EndsWith("\r\n", StringComparison.Ordinal) ? "\r\n" : raw.EndsWith("\n", StringComparison.Ordinal) ? "\n" : "";
                string body = raw.Substring(0, raw.Length - ending.Length);
                start = end;

                string trimmed = body.TrimEnd();
                if (trimmed.Length == 0) { lines.Add(new IniLine(IniLineKind.Blank, body, ending, group)); inValue = false; continue; }
                if (body[0] == ' ' || body[0] == '\t')
                {
                    if (!inValue) throw new IniFormatException(where, number, "is indented, but follows no option: oslo.config reads an indented line as the continuation of the value above it. Remove the indentation, or join it to its option");
                    lines.Add(new IniLine(IniLineKind.Continuation, body, ending, group));
                    continue;
                }
                inValue = false;
                if (body[0] == '[')
                {
                    if (trimmed[trimmed.Length - 1] != ']') throw new IniFormatException(where, number, "starts a group but does not end with ']'");
                    group = trimmed.Substring(1, trimmed.Length - 2);
                    if (group.Length == 0) throw new IniFormatException(where, number, "names no group between '[' and ']'");
                    lines.Add(new IniLine(IniLineKind.Section, body, ending, group));
                }
                else if (body[0] == '#' || body[0] == ';')
                    lines.Add(new IniLine(IniLineKind.Comment, body, ending, group));
                else
                {
                    int colon = body.IndexOf(':'), equal = body.IndexOf('=');
                    if (colon < 0 && equal < 0) throw new IniFormatException(where, number, "is neither a comment, a [group] nor 'name = value'");
                    int at = colon < 0 || (equal >= 0 && equal < colon) ? equal : colon;
                    string name = body.Substring(0, at).Trim();
                    if (name.Length == 0) throw new IniFormatException(where, number, "gives a value but no option name");
                    if (group == null) throw new IniFormatException(where, number, $"sets '{name}' before any [group]");
                    string value = body.Substring(at + 1).Trim();
                    if (value.Length >= 2 && value[0] == value[value.Length - 1] && (value[0] == '"' || value[0] == '\''))
                        value = value.Substring(1, value.Length - 2);
                    lines.Add(new IniLine(IniLineKind.Option, body, ending, group, name, value));
                    inValue = true;
                }
            }
            return new IniFile(lines, bom);
        }

        /// <summary>The file's bytes: exactly those it was read from, but for the lines renamed since.</summary>
        public byte[] ToBytes()
        {
            var sb = new StringBuilder();
            foreach (var line in _lines) sb.Append(line.Text).Append(line.Ending);
            byte[] body = Strict.GetBytes(sb.ToString());
            return _bom ? Bom.Concat(body).ToArray() : body;
        }

        /// <summary>
        /// Renames the option set on <paramref name="line"/> (1-based). Within its group only the
        /// name changes: spacing, value, continuation lines and line ending stay. Into another
        /// group, the option's lines move to the end of that group's options (the group is added
        /// at the end of the file if the file has none).
        /// </summary>
        public void Rename(int line, string newGroup, string newName)
        {
            var option = _lines[line - 1];
            if (option.Kind != IniLineKind.Option) throw new InvalidOperationException($"Line {line} sets no option.");
            var renamed = option.Renamed(newGroup, newName);
            if (string.Equals(option.Group, newGroup, StringComparison.OrdinalIgnoreCase)) { _lines[line - 1] = renamed; return; }

            int count = 1;
            while (line - 1 + count < _lines.Count && _lines[line - 1 + count].Kind == IniLineKind.Continuation) count++;
            var moved = _lines.Skip(line - 1).Take(count).Select(l => l.InGroup(newGroup)).ToList();
            moved[0] = renamed;
            _lines.RemoveRange(line - 1, count);

            string newline = _lines.Select(l => l.Ending).FirstOrDefault(e => e.Length > 0) ?? "\n";
            if (moved[moved.Count - 1].Ending.Length == 0) moved[moved.Count - 1] = moved[moved.Count - 1].WithEnding(newline);
            int header = _lines.FindIndex(l => l.Kind == IniLineKind.Section && string.Equals(l.Group, newGroup, StringComparison.OrdinalIgnoreCase));
            if (header < 0)
            {
                if (_lines.Count > 0 && _lines[_lines.Count - 1].Ending.Length == 0) _lines[_lines.Count - 1] = _lines[_lines.Count - 1].WithEnding(newline);
                _lines.Add(new IniLine(IniLineKind.Blank, "", newline, _lines.LastOrDefault()?.Group));
                _lines.Add(new IniLine(IniLineKind.Section, "[" + newGroup + "]", newline, newGroup));
                _lines.AddRange(moved);
                return;
            }
            int at = header + 1;
            for (int i = header + 1; i < _lines.Count && _lines[i].Kind != IniLineKind.Section; i++)
                if (_lines[i].Kind == IniLineKind.Option || _lines[i].Kind == IniLineKind.Continuation) at = i + 1;
            if (at == _lines.Count && _lines[at - 1].Ending.Length == 0) _lines[at - 1] = _lines[at - 1].WithEnding(newline);
            _lines.InsertRange(at, moved);
        }
    }

    public enum IniLineKind { Blank, Comment, Section, Option, Continuation }

    /// <summary>One line of an INI file as it was read: its text without the line ending, and the ending.</summary>
    public sealed class IniLine
    {
        internal IniLine(IniLineKind kind, string text, string ending, string? group, string? name = null, string? value = null)
        {
            Kind = kind;
            Text = text;
            Ending = ending;
            Group = group;
            Name = name;
            Value = value;
        }

        public IniLineKind Kind { get; }
        public string Text { get; }
        /// <summary>"\n", "\r\n", or "" for a last line without one.</summary>
        public string Ending { get; }
        /// <summary>The group the line is in; null before the first [group].</summary>
        public string? Group { get; }
        /// <summary>For an option line, the option's name and value; null on other lines.</summary>
        public string? Name { get; }
        public string? Value { get; }

        // The name is the text up to its last character: what follows (spacing, '=', value) stays.
        // Only option lines are renamed, and those have a name.
        internal IniLine Renamed(string group, string name) =>
            new IniLine(Kind, name + Text.Substring(Text.IndexOf(Name!, StringComparison.Ordinal) + Name!.Length), Ending, group, name, Value);

        internal IniLine InGroup(string group) => new IniLine(Kind, Text, Ending, group, Name, Value);

        internal IniLine WithEnding(string ending) => new IniLine(Kind, Text, ending, Group, Name, Value);

        public override string ToString() => Text;
    }

    /// <summary>An option set in a file: its group, name, value and the line it is on (1-based).</summary>
    public sealed class IniOption
    {
        public IniOption(string group, string name, string value, int line)
        {
            Group = group;
            Name = name;
            Value = value;
            Line = line;
        }

        public string Group { get; }
        public string Name { get; }
        public string Value { get; }
        public int Line { get; }
    }

    /// <summary>A configuration file has a line oslo.config would refuse (or is no text); the message names the file and line.</summary>
    public sealed class IniFormatException : DfException
    {
        public IniFormatException(string where, int line, string problem)
            : base("ConfigFileMalformed", DfErrorCategory.InvalidData, $"{where} line {line} {problem}.", where,
                   "Correct that line on the node (oslo.config would refuse the file too), then run the command again; nothing was changed.")
        {
            Line = line;
        }

        public int Line { get; }
    }
}
