using System;
using System.Collections;
using System.Collections.Generic;
using System.Globalization;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;

namespace DragonflowUpgrade.Engine.Json
{
    /// <summary>
    /// Reads and writes NB values. Reading gives plain .NET values (see <see cref="NbObject"/>);
    /// output is formatted as Dragonflow's Python serializer writes it (json.dumps defaults:
    /// ", " and ": " separators, non-ASCII escaped), so an object the module rewrites looks
    /// exactly like one Dragonflow wrote.
    /// <para>
    /// The engine's one reader of NB values: migrations, the snapshot's diff and the schema
    /// validation read them through it (the store's check that a value is well formed only scans
    /// it, with Utf8JsonReader, building nothing). Kept beside System.Text.Json because it also tells,
    /// in the same pass, whether the text is exactly what the writer would write (the snapshot's
    /// diff relies on it), and shares member names between objects. Measured on 100,000 values
    /// of the Pike sample (bench/readers.bench.ps1): Utf8JsonReader building the same objects is
    /// about a quarter faster but allocates 1.7 times as much, and with the same "as written"
    /// check (writing each value again) about 45% slower than this reader.
    /// </para>
    /// </summary>
    public static class NbJson
    {
        /// <summary>
        /// "not valid JSON (at byte 7)": what System.Text.Json found, by the byte it failed at in its line, counted from 0
        /// as this parser's own errors count, and past the first line with the line, counted from 1 as editors number
        /// lines ("at line 3, byte 7"; not when <paramref name="withLine"/> is false, for a caller that names the line).
        /// Its message is not shown, nor may the exception go along as an inner one: for a word it does not know, it
        /// quotes the rest of the line, which may hold a password.
        /// </summary>
        public static string NotJson(JsonException e, bool withLine = true) =>
            e.BytePositionInLine is long at
                ? "not valid JSON (" + (withLine && e.LineNumber > 0 ? $"at line {e.LineNumber + 1}, byte " : "at byte ") + at.ToString(CultureInfo.InvariantCulture) + ")"
                : "not valid JSON";

        const int MaxDepth = 64;
        const int MaxIntegerDigits = 4300;
        static readonly UTF8Encoding StrictUtf8 = new UTF8Encoding(false, throwOnInvalidBytes: true);
        static readonly object True = true, False = false;

        /// <summary>
        /// Parses one JSON value: an <see cref="NbObject"/>, a <c>List&lt;object&gt;</c>, a string,
        /// a long (a BigInteger beyond its range), a double, a bool or null.
        /// </summary>
        /// <exception cref="FormatException">The text is not one valid JSON value; the message says where.</exception>
        public static object? Parse(ReadOnlySpan<byte> utf8) => Parse(utf8, out _);

        /// <summary>
        /// <see cref="Parse(ReadOnlySpan{byte})"/>, also telling whether the text is exactly what
        /// <see cref="Serialize"/> writes for the value read, as it is for everything Dragonflow
        /// stores: then any other text holds other data.
        /// </summary>
        [MethodImpl(Hot.Optimize)]
        internal static object? Parse(ReadOnlySpan<byte> utf8, out bool asWritten)
        {
            var r = Reader.OfThread;
            r.NotAsWritten = false;
            int at = 0;
            var value = ReadValue(r, utf8, ref at, 0, space: 0);
            Space(r, utf8, ref at, 0);
            if (at < utf8.Length) throw Invalid("more text after the value", at);
            asWritten = !r.NotAsWritten;
            return value;
        }

        /// <summary>
        /// <see cref="Parse(ReadOnlySpan{byte}, out bool)"/> for checking a value member by member, as
        /// System.Text.Json's JsonDocument reads it: a member named twice is kept twice, in order (such
        /// an object is only for reading member by member; its indexer finds the first). With
        /// <paramref name="spans"/>, also where each string, number, object and array lies in the text (by reference).
        /// With <paramref name="valuesOf"/>, only the values of the top-level members it names are read: every
        /// other member is kept with the value <see cref="Unread"/>, its text checked as JSON but not read into values.
        /// </summary>
        internal static object? ParseAllMembers(ReadOnlySpan<byte> utf8, out bool asWritten, Dictionary<object, (int Start, int Length)>? spans = null,
            ISet<string>? valuesOf = null)
        {
            var r = Reader.OfThread;
            r.AllMembers = true;
            r.Spans = spans;
            r.ValuesOf = valuesOf;
            try { return Parse(utf8, out asWritten); }
            finally
            {
                r.AllMembers = false;
                r.Spans = null;
                r.ValuesOf = null;
                r.Skipping = false;
            }
        }

        /// <summary>The value of a member <see cref="ParseAllMembers"/> was asked not to read.</summary>
        internal static readonly object Unread = new object();

        /// <summary>
        /// Checks the text as <see cref="Parse(ReadOnlySpan{byte}, out bool)"/> reads it, throwing what it
        /// throws, without making any value; returns whether it is an object.
        /// </summary>
        [MethodImpl(Hot.Optimize)]
        internal static bool Check(ReadOnlySpan<byte> utf8, out bool asWritten)
        {
            var r = Reader.OfThread;
            r.Skipping = true;
            try { Parse(utf8, out asWritten); }
            finally { r.Skipping = false; }
            int at = 0;
            SkipSpace(utf8, ref at);
            return utf8[at] == '{';  // the text holds a value
        }

        /// <summary>What <see cref="ReadMember"/> found.</summary>
        internal enum Member { Missing, Read, Structure }

        /// <summary>
        /// The value of the top-level member <paramref name="name"/> of an object whose text passed
        /// <see cref="Check"/>: Read when it is a string, number, bool or null; Structure, with no value,
        /// when it is an object or array; Missing when there is no such member.
        /// </summary>
        [MethodImpl(Hot.Optimize)]
        internal static Member ReadMember(ReadOnlySpan<byte> utf8, string name, out object? value)
        {
            var r = Reader.OfThread;
            value = null;
            int at = 0;
            SkipSpace(utf8, ref at);
            at++;  // '{'
            SkipSpace(utf8, ref at);
            if (utf8[at] == '}') return Member.Missing;
            while (true)
            {
                SkipSpace(utf8, ref at);
                bool found = ReadString(r, utf8, ref at, name: true) == name;
                SkipSpace(utf8, ref at);
                at++;  // ':'
                SkipSpace(utf8, ref at);
                if (found)
                {
                    if (utf8[at] == '{' || utf8[at] == '[') return Member.Structure;
                    value = ReadValue(r, utf8, ref at, 1, space: 0);
                    return Member.Read;
                }
                SkipChecked(utf8, ref at);
                SkipSpace(utf8, ref at);
                if (utf8[at++] == '}') return Member.Missing;  // else ','
            }
        }

        // Passes over one value of text that Check has passed: by its brackets and quotes alone.
        [MethodImpl(Hot.Optimize)]
        static void SkipChecked(ReadOnlySpan<byte> b, ref int at)
        {
            int depth = 0;
            while (true)
            {
                byte c = b[at];
                if (c == '"')
                {
                    for (at++; b[at] != '"'; at++)
                        if (b[at] == '\\') at++;
                    at++;
                    if (depth == 0) return;
                }
                else if (c == '{' || c == '[') { depth++; at++; }
                else if (c == '}' || c == ']')
                {
                    if (depth == 0) return;  // the end of the object around a number or word just passed
                    at++;
                    if (--depth == 0) return;
                }
                else if (depth == 0 && (c == ',' || c == ' ' || c == '\n' || c == '\r' || c == '\t')) return;
                else at++;
            }
        }

        static FormatException Invalid(string what, int at) => new FormatException($"not valid JSON: {what} at byte {at}.");

        // The reader's state, one per thread, passed along rather than kept in thread-static
        // fields: reading one of those costs a call into the runtime on every use.
        [ThreadStatic] static Reader? _reader;

        sealed class Reader
        {
            public bool NotAsWritten;  // set on anything Serialize would have written otherwise
            public bool AllMembers;    // keep members named twice (ParseAllMembers)
            public Dictionary<object, (int Start, int Length)>? Spans;
            public ISet<string>? ValuesOf;  // the top-level members whose values are read (ParseAllMembers); null: all
            public bool Skipping;           // inside a value that is checked but not read
            // The members of the objects being read, innermost last: each object is made at its size once read.
            public string[] MemberNames = new string[64];
            public object?[] MemberValues = new object?[64];
            public int Members;
            // Member names repeat in every object of a table: the last ones seen, by a hash of their
            // bytes, and those bytes.
            public readonly string[] Names = new string[1024];
            public readonly byte[][] NameBytes = new byte[1024][];

            public static Reader OfThread => _reader ?? (_reader = new Reader());
        }

        [MethodImpl(Hot.Optimize)]
        static void SkipSpace(ReadOnlySpan<byte> b, ref int at)
        {
            while (at < b.Length && (b[at] == ' ' || b[at] == '\n' || b[at] == '\r' || b[at] == '\t')) at++;
        }

        /// <summary>Skips white space where Serialize writes <paramref name="expected"/> blanks (0 or 1).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static void Space(Reader r, ReadOnlySpan<byte> b, ref int at, int expected)
        {
            // Inlined, the spacing as written costs a comparison or two: it runs before every token.
            if (expected == 0 ? at >= b.Length || b[at] > ' ' : at + 1 < b.Length && b[at] == ' ' && b[at + 1] > ' ')
            {
                at += expected;
                return;
            }
            OtherSpace(r, b, ref at, expected);
        }

        static void OtherSpace(Reader r, ReadOnlySpan<byte> b, ref int at, int expected)
        {
            int start = at;
            SkipSpace(b, ref at);
            if (at - start != expected || (expected == 1 && b[start] != ' ')) r.NotAsWritten = true;
        }

        [MethodImpl(Hot.Optimize)]
        static object? ReadValue(Reader r, ReadOnlySpan<byte> b, ref int at, int depth, int space)
        {
            Space(r, b, ref at, space);
            if (at >= b.Length) throw Invalid("the text ends where a value should be", at);
            int start = at;
            object? value;
            switch (b[at])
            {
                case (byte)'{':
                    if (depth == MaxDepth) throw Invalid($"objects and arrays nested deeper than {MaxDepth}", at);
                    value = ReadObject(r, b, ref at, depth + 1);
                    break;
                case (byte)'[':
                    if (depth == MaxDepth) throw Invalid($"objects and arrays nested deeper than {MaxDepth}", at);
                    value = ReadArray(r, b, ref at, depth + 1);
                    break;
                case (byte)'"': value = ReadString(r, b, ref at, name: false); break;
                case (byte)'t': Literal(b, ref at, "true"); return r.Skipping ? Unread : True;
                case (byte)'f': Literal(b, ref at, "false"); return r.Skipping ? Unread : False;
                case (byte)'n': Literal(b, ref at, "null"); return r.Skipping ? Unread : null;
                default: value = ReadNumber(r, b, ref at); break;
            }
            if (r.Skipping) return Unread;
            if (r.Spans != null) r.Spans[value!] = (start, at - start);  // only null's literal gives null, and it has returned
            return value;
        }


        // Skipping, it gives null: the value is not read.
        [MethodImpl(Hot.Optimize)]
        static NbObject? ReadObject(Reader r, ReadOnlySpan<byte> b, ref int at, int depth)
        {
            at++;
            Space(r, b, ref at, 0);
            if (at < b.Length && b[at] == '}') { at++; return r.Skipping ? null : new NbObject(); }
            int first = r.Members;
            try
            {
                for (int n = 0; ; n++)
                {
                    if (n > 0) Space(r, b, ref at, 1);
                    if (at >= b.Length || b[at] != '"') throw Invalid("a member name should be here", at);
                    int nameAt = at;
                    string name = ReadString(r, b, ref at, name: true);
                    if (!r.AllMembers)
                        for (int k = first; k < r.Members; k++)
                            if (r.MemberNames[k] == name) throw Invalid($"member '{name}' appears twice", nameAt);
                    Space(r, b, ref at, 0);
                    if (at >= b.Length || b[at] != ':') throw Invalid("':' should follow a member name", at);
                    at++;
                    bool skip = depth == 1 && r.ValuesOf != null && !r.ValuesOf.Contains(name);
                    if (skip) r.Skipping = true;
                    var value = ReadValue(r, b, ref at, depth, space: 1);
                    if (skip) r.Skipping = false;
                    // Skipping, the names are kept too: a member named twice is an error there as well.
                    if (r.Members == r.MemberNames.Length)
                    {
                        Array.Resize(ref r.MemberNames, r.Members * 2);
                        Array.Resize(ref r.MemberValues, r.Members * 2);
                    }
                    r.MemberNames[r.Members] = name;
                    r.MemberValues[r.Members++] = value;
                    Space(r, b, ref at, 0);
                    if (at < b.Length && b[at] == ',') { at++; continue; }
                    if (at < b.Length && b[at] == '}') { at++; return r.Skipping ? null : new NbObject(r.MemberNames, r.MemberValues, first, r.Members - first); }
                    throw Invalid("',' or '}' should be here", at);
                }
            }
            finally
            {
                Array.Clear(r.MemberValues, first, r.Members - first);
                r.Members = first;
            }
        }

        [MethodImpl(Hot.Optimize)]
        // Skipping, it keeps no item and gives null.
        static List<object?>? ReadArray(Reader r, ReadOnlySpan<byte> b, ref int at, int depth)
        {
            var list = r.Skipping ? null : new List<object?>();
            at++;
            Space(r, b, ref at, 0);
            if (at < b.Length && b[at] == ']') { at++; return list; }
            for (int n = 0; ; n++)
            {
                var item = ReadValue(r, b, ref at, depth, space: n == 0 ? 0 : 1);
                list?.Add(item);
                Space(r, b, ref at, 0);
                if (at < b.Length && b[at] == ',') { at++; continue; }
                if (at < b.Length && b[at] == ']') { at++; return list; }
                throw Invalid("',' or ']' should be here", at);
            }
        }

        static void Literal(ReadOnlySpan<byte> b, ref int at, string word)
        {
            for (int i = 0; i < word.Length; i++)
                if (at + i >= b.Length || b[at + i] != word[i]) throw Invalid("an unknown word", at);
            at += word.Length;
        }

        [MethodImpl(Hot.Optimize)]
        static object ReadNumber(Reader r, ReadOnlySpan<byte> b, ref int at)
        {
            int start = at;
            if (at < b.Length && b[at] == '-') at++;
            int digits = at;
            while (at < b.Length && b[at] >= '0' && b[at] <= '9') at++;
            if (at == digits || (b[digits] == '0' && at - digits > 1)) throw Invalid("not a number", start);
            bool integer = true;
            if (at < b.Length && b[at] == '.')
            {
                integer = false;
                int fraction = ++at;
                while (at < b.Length && b[at] >= '0' && b[at] <= '9') at++;
                if (at == fraction) throw Invalid("a number needs digits after '.'", start);
            }
            if (at < b.Length && (b[at] == 'e' || b[at] == 'E'))
            {
                integer = false;
                at++;
                if (at < b.Length && (b[at] == '+' || b[at] == '-')) at++;
                int exponent = at;
                while (at < b.Length && b[at] >= '0' && b[at] <= '9') at++;
                if (at == exponent) throw Invalid("a number needs digits in its exponent", start);
            }
            if (integer && at - digits <= 18)
            {
                long n = 0;
                for (int i = digits; i < at; i++) n = n * 10 + (b[i] - '0');
                if (digits > start && n == 0) r.NotAsWritten = true;  // -0
                return digits > start ? -n : n;
            }
            string text = Encoding.ASCII.GetString(b.Slice(start, at - start).ToArray());
            if (!integer)
            {
                // Beyond a double's range: infinity, as .NET Core parses it; .NET Framework's Parse throws instead.
                if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double d))
                    d = text[0] == '-' ? double.NegativeInfinity : double.PositiveInfinity;
                if (double.IsInfinity(d) || FormatDouble(d) != text) r.NotAsWritten = true;
                return d;
            }
            // Python's integers are kept exact, up to the 4,300 digits its int() reads (3.11 and later; a longer
            // one would take the parse quadratic time here).
            if (at - digits > MaxIntegerDigits) throw Invalid($"an integer of more than {MaxIntegerDigits} digits, which Python does not read", start);
            return long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long l) ? (object)l : BigInteger.Parse(text, CultureInfo.InvariantCulture);
        }


#if NET8_0_OR_GREATER
        // What ends a run of plain text in a string: its closing quote, an escape, a control character or a byte outside ASCII.
        static readonly System.Buffers.SearchValues<byte> StringStops = StopsOfPlainText();

        static System.Buffers.SearchValues<byte> StopsOfPlainText()
        {
            var stops = new List<byte>();
            for (int c = 0; c < 256; c++)
                if (c < 0x20 || c == '"' || c == '\\' || c >= 0x7f) stops.Add((byte)c);
            return System.Buffers.SearchValues.Create(stops.ToArray());
        }
#endif

        [MethodImpl(Hot.Optimize)]
        static unsafe string ReadString(Reader r, ReadOnlySpan<byte> b, ref int at, bool name)
        {
            int start = at + 1, end = start;
            uint hash = 2166136261;
            bool wide = false;
#if NET8_0_OR_GREATER
            if (!name)
            {
                // Printable ASCII, most of a value, is passed over a vector at a time.
                int plain = b.Slice(start).IndexOfAny(StringStops);
                end = plain < 0 ? b.Length : start + plain;
            }
#endif
            while (true)
            {
                if (end >= b.Length) throw Invalid("a string is not closed", at);
                byte c = b[end];
                if (c == '"') break;
                if (c == '\\') return ReadEscapedString(r, b, ref at);
                if (c < 0x20) throw Invalid("a control character inside a string", end);
                if (c >= 0x7f)
                {
                    r.NotAsWritten = true;  // written escaped
                    wide = true;
                }
                if (name) hash = (hash ^ c) * 16777619;
                end++;
            }
            int length = end - start;
            at = end + 1;
            if (length == 0) return "";
            var text = b.Slice(start, length);
            if (r.Skipping && !name)
            {
                // Checked as Decode checks it, without making the string.
                if (wide && !IsUtf8(text)) throw Invalid("a string that is not UTF-8", start);
                return "";
            }
            if (name)
            {
                int slot = (int)(hash & 1023);
                var known = r.NameBytes[slot];
                if (known != null && text.SequenceEqual(known)) return r.Names[slot];
                string decoded = Decode(text, start);
                r.Names[slot] = decoded;
                r.NameBytes[slot] = text.ToArray();
                return decoded;
            }
            return Decode(text, start);
        }

        static string Decode(ReadOnlySpan<byte> text, int at)
        {
            try { return Utf8Text(text); }
            catch (DecoderFallbackException) { throw Invalid("a string that is not UTF-8", at); }
        }

        /// <summary>The text of UTF-8 bytes.</summary>
        /// <exception cref="DecoderFallbackException">The bytes are not UTF-8.</exception>
        [MethodImpl(Hot.Optimize)]
        internal static unsafe string Utf8Text(ReadOnlySpan<byte> utf8)
        {
#if NETCOREAPP2_1_OR_GREATER
            return StrictUtf8.GetString(utf8);
#else
            if (utf8.IsEmpty) return "";
            fixed (byte* p = &utf8[0]) return StrictUtf8.GetString(p, utf8.Length);
#endif
        }

        /// <summary>Whether the bytes are UTF-8 text.</summary>
        internal static unsafe bool IsUtf8(ReadOnlySpan<byte> utf8)
        {
#if NET8_0_OR_GREATER
            return System.Text.Unicode.Utf8.IsValid(utf8);
#else
            if (utf8.IsEmpty) return true;
            try
            {
                fixed (byte* p = &utf8[0]) StrictUtf8.GetCharCount(p, utf8.Length);
                return true;
            }
            catch (DecoderFallbackException) { return false; }
#endif
        }

        static string ReadEscapedString(Reader r, ReadOnlySpan<byte> b, ref int at)
        {
            var text = new StringBuilder();
            int i = at + 1, run = i;
            while (true)
            {
                if (i >= b.Length) throw Invalid("a string is not closed", at);
                byte c = b[i];
                if (c == '"') break;
                if (c < 0x20) throw Invalid("a control character inside a string", i);
                if (c >= 0x7f) r.NotAsWritten = true;
                if (c != '\\') { i++; continue; }
                Append(text, b.Slice(run, i - run), run);
                if (i + 1 >= b.Length) throw Invalid("a string is not closed", at);
                switch (b[i + 1])
                {
                    case (byte)'"': text.Append('"'); break;
                    case (byte)'\\': text.Append('\\'); break;
                    case (byte)'/': text.Append('/'); r.NotAsWritten = true; break;
                    case (byte)'b': text.Append('\b'); break;
                    case (byte)'f': text.Append('\f'); break;
                    case (byte)'n': text.Append('\n'); break;
                    case (byte)'r': text.Append('\r'); break;
                    case (byte)'t': text.Append('\t'); break;
                    case (byte)'u':
                        int code = i + 6 > b.Length ? -1 : Hex4(b.Slice(i + 2, 4));
                        if (code < 0) throw Invalid("'\\u' needs four hex digits", i);
                        text.Append((char)code);
                        // Written as \u only where it has no short escape and is not plain ASCII, in lower-case hex.
                        if ((code < 128 && Escapes[code] != "\\u" + code.ToString("x4")) || HasUpperHex(b.Slice(i + 2, 4))) r.NotAsWritten = true;
                        i += 4;
                        break;
                    default: throw Invalid("an unknown escape", i);
                }
                i += 2;
                run = i;
            }
            Append(text, b.Slice(run, i - run), run);
            at = i + 1;
            return text.ToString();
        }

        // The value of four hex digits, or -1. Not int.Parse: it takes trailing NULs.
        static int Hex4(ReadOnlySpan<byte> hex)
        {
            int code = 0;
            foreach (byte h in hex)
            {
                int d = h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10 : h >= 'A' && h <= 'F' ? h - 'A' + 10 : -1;
                if (d < 0) return -1;
                code = code * 16 + d;
            }
            return code;
        }

        static bool HasUpperHex(ReadOnlySpan<byte> hex)
        {
            foreach (byte h in hex) if (h >= 'A' && h <= 'F') return true;
            return false;
        }

        static void Append(StringBuilder text, ReadOnlySpan<byte> utf8, int at)
        {
            if (utf8.Length == 0) return;
            try { text.Append(StrictUtf8.GetString(utf8.ToArray())); }
            catch (DecoderFallbackException) { throw Invalid("a string that is not UTF-8", at); }
        }

        /// <summary>What kind of JSON value a parsed value is, for messages: "object", "array", "string", "number", "boolean" or "null".</summary>
        public static string KindOf(object? value)
        {
            switch (value)
            {
                case null: return "null";
                case NbObject _: return "object";
                case string _: return "string";
                case bool _: return "boolean";
                case List<object> _: return "array";
                default: return "number";
            }
        }

        public static byte[] Serialize(object value) => Format(value).ToArray();

        /// <summary>Serializes into this thread's buffer: the result is valid until the thread's next call.</summary>
        [MethodImpl(Hot.Optimize)]
        internal static ReadOnlySpan<byte> Format(object value)
        {
            var w = Buffer ?? (Buffer = new ByteWriter());
            w.Reset();
            Write(w, value, 0);
            return w.Written;
        }

        // One reusable output buffer per thread: serializing thousands of objects allocates only their results.
        [ThreadStatic] static ByteWriter? Buffer;

        sealed class ByteWriter
        {
            byte[] _bytes = new byte[1024];
            int _length;

            public void Reset() => _length = 0;
            public ReadOnlySpan<byte> Written => new ReadOnlySpan<byte>(_bytes, 0, _length);

            void Room(int n)
            {
                if (_length + n <= _bytes.Length) return;
                Array.Resize(ref _bytes, Math.Max(_bytes.Length * 2, _length + n));
            }

            [MethodImpl(Hot.Optimize)]
            public void Byte(char c)
            {
                Room(1);
                _bytes[_length++] = (byte)c;
            }

            /// <summary>ASCII text as it is (structure, numbers, escapes).</summary>
            [MethodImpl(Hot.Optimize)]
            public void Ascii(string s) => Ascii(s, s.Length);

            /// <summary>The first <paramref name="count"/> characters of ASCII text.</summary>
            [MethodImpl(Hot.Optimize)]
            public void Ascii(string s, int count)
            {
                Room(count);
                _length += Encoding.ASCII.GetBytes(s, 0, count, _bytes, _length);
            }
        }

        [MethodImpl(Hot.Optimize)]
        static void Write(ByteWriter w, object? value, int depth)
        {
            if (depth > MaxDepth) throw new FormatException($"An NB object cannot nest objects and arrays deeper than {MaxDepth} (is one inside itself?).");
            switch (value)
            {
                case null: w.Ascii("null"); return;
                case string s: WriteString(w, s); return;
                case bool b: w.Ascii(b ? "true" : "false"); return;
                case long l: w.Ascii(l.ToString(CultureInfo.InvariantCulture)); return;
                case int i: w.Ascii(i.ToString(CultureInfo.InvariantCulture)); return;
                case double d: w.Ascii(FormatDouble(d)); return;
                case NbObject o:
                    w.Byte('{');
                    for (int k = 0; k < o.Count; k++)
                    {
                        if (k > 0) w.Ascii(", ");
                        WriteString(w, o.NameAt(k));
                        w.Ascii(": ");
                        Write(w, o.ValueAt(k), depth + 1);
                    }
                    w.Byte('}');
                    return;
                case List<object> list:
                    w.Byte('[');
                    for (int k = 0; k < list.Count; k++)
                    {
                        if (k > 0) w.Ascii(", ");
                        Write(w, list[k], depth + 1);
                    }
                    w.Byte(']');
                    return;
                case float f: w.Ascii(FormatDouble(f)); return;
                case decimal m: w.Ascii(m.ToString(CultureInfo.InvariantCulture)); return;
                case BigInteger big: w.Ascii(big.ToString(CultureInfo.InvariantCulture)); return;
                case short _: case sbyte _: case byte _: case ushort _: case uint _: case ulong _:
                    w.Ascii(((IFormattable)value).ToString(null, CultureInfo.InvariantCulture));
                    return;
                case IDictionary dict:
                    w.Byte('{');
                    bool first = true;
                    foreach (DictionaryEntry entry in dict)
                    {
                        if (!(entry.Key is string key)) throw new FormatException($"An NB object's member names are strings, not {entry.Key?.GetType().Name ?? "null"}.");
                        if (!first) w.Ascii(", ");
                        first = false;
                        WriteString(w, key);
                        w.Ascii(": ");
                        Write(w, entry.Value, depth + 1);
                    }
                    w.Byte('}');
                    return;
                case IEnumerable items:
                    w.Byte('[');
                    bool firstItem = true;
                    foreach (var item in items)
                    {
                        if (!firstItem) w.Ascii(", ");
                        firstItem = false;
                        Write(w, item, depth + 1);
                    }
                    w.Byte(']');
                    return;
                default:
                    throw new FormatException($"A {value.GetType().FullName} cannot be stored in an NB object; use a string, number, bool, list or NbObject.");
            }
        }

        /// <summary>A double as Python's repr writes it: shortest round trip, always with a '.' or an exponent.</summary>
        public static string FormatDouble(double d)
        {
            if (double.IsNaN(d) || double.IsInfinity(d)) throw new FormatException("NaN and infinity cannot be stored in an NB object.");
            // "R" gives the shortest digits that round-trip; where it puts the decimal point is its own.
            string r = d.ToString("R", CultureInfo.InvariantCulture);
            int e = r.IndexOf('E');
            if (e < 0 && r.Length <= 16) return r.IndexOf('.') < 0 ? r + ".0" : r; // below 1e16 and not tiny: Python's form too
            return PythonRepr(r, e);
        }

        // Python's repr of a float from the digits .NET wrote: positional while the value is at
        // least 1e-4 and below 1e16, else d.ddde+XX (the exponent of at least two digits).
        static string PythonRepr(string r, int e)
        {
            bool negative = r[0] == '-';
            string mantissa = e < 0 ? r : r.Substring(0, e);
            int exponent = e < 0 ? 0 : int.Parse(r.Substring(e + 1), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
            if (negative) mantissa = mantissa.Substring(1);
            int dot = mantissa.IndexOf('.');
            string digits = dot < 0 ? mantissa : mantissa.Remove(dot, 1);
            int point = (dot < 0 ? mantissa.Length : dot) + exponent;  // the value is 0.DIGITS times 10^point
            int lead = 0;
            while (lead < digits.Length - 1 && digits[lead] == '0') lead++;
            digits = digits.Substring(lead).TrimEnd('0');
            point -= lead;
            if (digits.Length == 0) { digits = "0"; point = 1; }
            var sb = new StringBuilder(digits.Length + 8);
            if (negative) sb.Append('-');
            if (point > -4 && point <= 16)
            {
                if (point <= 0) sb.Append("0.").Append('0', -point).Append(digits);
                else if (point >= digits.Length) sb.Append(digits).Append('0', point - digits.Length).Append(".0");
                else sb.Append(digits, 0, point).Append('.').Append(digits, point, digits.Length - point);
            }
            else
            {
                sb.Append(digits[0]);
                if (digits.Length > 1) sb.Append('.').Append(digits, 1, digits.Length - 1);
                int x = point - 1;
                sb.Append(x < 0 ? "e-" : "e+").Append(Math.Abs(x).ToString("00", CultureInfo.InvariantCulture));
            }
            return sb.ToString();
        }

        static readonly string[] Escapes = BuildEscapes();

        static string[] BuildEscapes()
        {
            var e = new string[128];
            for (int c = 0; c < 0x20; c++) e[c] = "\\u" + c.ToString("x4");
            e['"'] = "\\\""; e['\\'] = "\\\\"; e['\n'] = "\\n"; e['\r'] = "\\r"; e['\t'] = "\\t"; e['\b'] = "\\b"; e['\f'] = "\\f";
            e[0x7f] = "\\u007f";
            return e;
        }

        [MethodImpl(Hot.Optimize)]
        static void WriteString(ByteWriter w, string s)
        {
            w.Byte('"');
            int plain = 0;
            while (plain < s.Length && s[plain] < 128 && Escapes[s[plain]] == null) plain++;
            w.Ascii(s, plain);  // most strings are plain ASCII to the end
            for (int i = plain; i < s.Length; i++)
            {
                char c = s[i];
                if (c < 128)
                {
                    var escape = Escapes[c];
                    if (escape == null) w.Byte(c); else w.Ascii(escape);
                }
                else w.Ascii("\\u" + ((int)c).ToString("x4"));
            }
            w.Byte('"');
        }

        /// <summary>The top-level <c>"topic"</c> string of a JSON object value; null for anything else.</summary>
        public static string? TopicOf(ReadOnlySpan<byte> value)
        {
            if (value.IsEmpty) return null;
            try
            {
                var reader = new Utf8JsonReader(value);
                if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) return null;
                while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                {
                    bool isTopic = reader.ValueTextEquals("topic");
                    reader.Read();
                    if (isTopic)
                        return reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
                    reader.Skip();
                }
            }
            catch (JsonException) { } // not JSON: the value is read as it is, and whatever parses it says what is wrong
            catch (InvalidOperationException)
            {
                // Text System.Text.Json will not decode, in a name or the topic: half of a surrogate pair
                // escaped, which Parse keeps, or bytes that are not UTF-8, which it refuses.
                try { return (Parse(value) as NbObject)?["topic"] as string; }
                catch (FormatException) { }
            }
            return null;
        }

        /// <summary>
        /// Whether two JSON texts hold the same data: the same tokens in the same order, numbers
        /// equal as numbers, strings equal once unescaped. Formatting does not count; member
        /// order does (a rewrite that reorders members is written, which is harmless).
        /// </summary>
        [MethodImpl(Hot.Optimize)]
        public static bool SameData(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b)
        {
            if (a.SequenceEqual(b)) return true;
            // Token by token: structure and literals byte for byte, strings and numbers by value.
            int i = 0, j = 0;
            try
            {
                while (true)
                {
                    SkipSpace(a, ref i);
                    SkipSpace(b, ref j);
                    if (i >= a.Length || j >= b.Length) return i >= a.Length && j >= b.Length;
                    byte x = a[i], y = b[j];
                    if (x == '"')
                    {
                        if (y != '"' || !SameString(a, ref i, b, ref j)) return false;
                    }
                    else if (x == '-' || (x >= '0' && x <= '9'))
                    {
                        if (!(y == '-' || (y >= '0' && y <= '9')) || !SameNumber(a, ref i, b, ref j)) return false;
                    }
                    else
                    {
                        if (x != y) return false;
                        i++;
                        j++;
                    }
                }
            }
            catch (FormatException) { return false; }
        }

        [MethodImpl(Hot.Optimize)]
        static bool SameString(ReadOnlySpan<byte> a, ref int i, ReadOnlySpan<byte> b, ref int j)
        {
            int endA = StringEnd(a, i, out bool escapedA), endB = StringEnd(b, j, out bool escapedB);
            bool same = !escapedA && !escapedB
                ? a.Slice(i, endA - i).SequenceEqual(b.Slice(j, endB - j))
                : ReadString(Reader.OfThread, a, ref i, name: false) == ReadString(Reader.OfThread, b, ref j, name: false);
            i = endA;
            j = endB;
            return same;
        }

        // Where the string starting at the quote at <paramref name="at"/> ends (just past its closing quote).
        static int StringEnd(ReadOnlySpan<byte> b, int at, out bool escaped)
        {
            escaped = false;
            for (int k = at + 1; k < b.Length; k++)
            {
                if (b[k] == '"') return k + 1;
                if (b[k] == '\\') { escaped = true; k++; }
            }
            throw Invalid("a string is not closed", at);
        }

        static bool SameNumber(ReadOnlySpan<byte> a, ref int i, ReadOnlySpan<byte> b, ref int j)
        {
            int startA = i, startB = j;
            var x = ReadNumber(Reader.OfThread, a, ref i);
            var y = ReadNumber(Reader.OfThread, b, ref j);
            if (a.Slice(startA, i - startA).SequenceEqual(b.Slice(startB, j - startB))) return true;
            if (x is double || y is double) return ToDouble(x).Equals(ToDouble(y));
            return x.Equals(y);
        }

        static double ToDouble(object number) =>
            number is long l ? l : number is BigInteger big ? (double)big : (double)number;
    }
}
