using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Numerics;
using System.Text;
using System.Text.Json;
using DragonflowUpgrade.Engine.Json;
using Xunit;

namespace DragonflowUpgrade.Engine.Tests
{
    /// <summary>A fact that needs python3 on the PATH, skipped with a message saying so when it is missing.</summary>
    public sealed class PythonFactAttribute : FactAttribute
    {
        public PythonFactAttribute()
        {
            if (!Python.Available) Skip = "python3 is not on the PATH: the NB JSON writer cannot be compared with Python's json.dumps here.";
        }
    }

    static class Python
    {
        static readonly Lazy<bool> Found = new Lazy<bool>(() =>
        {
            try
            {
                using (var p = Process.Start(new ProcessStartInfo("python3", "-c pass") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false }))
                {
                    p.WaitForExit(30000);
                    return p.HasExited && p.ExitCode == 0;
                }
            }
            catch (System.ComponentModel.Win32Exception) { return false; }
        });

        public static bool Available => Found.Value;

        /// <summary>Runs a Python script once with the given standard input; its standard output, as bytes.</summary>
        public static byte[] Run(string script, byte[] input)
        {
            var info = new ProcessStartInfo("python3", "-c \"" + script.Replace("\"", "\\\"") + "\"")
            {
                RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
            };
            using (var p = Process.Start(info))
            {
                var output = new MemoryStream();
                var copy = p.StandardOutput.BaseStream.CopyToAsync(output);
                var error = p.StandardError.ReadToEndAsync();
                p.StandardInput.BaseStream.Write(input, 0, input.Length);
                p.StandardInput.Close();
                copy.Wait(TimeSpan.FromMinutes(2));
                p.WaitForExit(120000);
                Assert.True(p.ExitCode == 0, "python3 failed: " + error.Result);
                return output.ToArray();
            }
        }
    }

    /// <summary>
    /// The NB JSON reader and writer against references: the writer against Python's json.dumps
    /// with the settings Dragonflow's models serialize with (oslo jsonutils.dumps: json.dumps
    /// defaults, so ", " and ": " separators, ensure_ascii, members in order), the reader against
    /// System.Text.Json, and round trips; over seeded random values and edge cases.
    /// </summary>
    public class NbJsonDifferentialTests
    {
        const int Seed = 20171112, Generated = 4000;

        // ---- Values ----

        static readonly string[] Names = { "id", "topic", "name", "version", "unique_key", "ips", "macs", "lswitch", "binding", "a\"b", "back\\slash", "caf\u00e9", "\u65e5\u672c", "\U0001F600", "", " ", "ctl\u0001", "\u007f", "tab\t", "line\n" };

        static readonly double[] EdgeDoubles =
        {
            0.0, -0.0, 1.0, -1.0, 0.1, 0.5, 1.5, 2.5e20, 1e-5, 1e-4, 0.0001234, 0.00001234, 1e15, 1e16, 1e17, 1234567890123456.7,
            123456789012345.6, 9007199254740993.0, 1e22, 1e21, 1e100, 1e-100, 5e-324, double.Epsilon * 3, 2.2250738585072014e-308,
            1.7976931348623157e308, -1.7976931348623157e308, 1503312312.125, 1503312312.1234567, 100.0, 1e14, 999999999999999.9, 9999999999999998.0,
        };

        static readonly object[] EdgeIntegers =
        {
            0L, 1L, -1L, long.MaxValue, long.MinValue, 999999999999999999L, 1000000000000000000L, -999999999999999999L,
            BigInteger.Parse("9223372036854775808"), BigInteger.Parse("-9223372036854775809"), BigInteger.Pow(10, 40), -BigInteger.Pow(7, 70),
        };

        static readonly string[] EdgeStrings =
        {
            "", "plain", "\"\\/\b\f\n\r\t", "\u0000\u0001\u001f\u007f\u0080\u00ff", "\u2028\u2029", "\U0001F600\U0001F4A9", "\ud800", "\udc00x", "x\ud83d",
            "\ufeff\ufffe\uffff", "</script>", "caf\u00e9 \u65e5\u672c\u8a9e", new string('x', 5000), "\\u0041",
        };

        static string RandomString(Random r)
        {
            int n = r.Next(0, r.Next(2) == 0 ? 8 : 40);
            var sb = new StringBuilder(n);
            for (int i = 0; i < n; i++)
            {
                switch (r.Next(10))
                {
                    case 0: sb.Append((char)r.Next(0, 0x20)); break;
                    case 1: sb.Append("\"\\/"[r.Next(3)]); break;
                    case 2: sb.Append((char)r.Next(0x80, 0xd800)); break;
                    case 3: sb.Append(char.ConvertFromUtf32(r.Next(0x10000, 0x110000))); break;
                    case 4: sb.Append((char)r.Next(0xe000, 0x10000)); break;
                    case 5: if (r.Next(8) == 0) sb.Append((char)r.Next(0xd800, 0xe000)); break; // now and then a lone surrogate
                    default: sb.Append((char)r.Next(0x20, 0x80)); break;
                }
            }
            return sb.ToString();
        }

        static double RandomDouble(Random r)
        {
            switch (r.Next(4))
            {
                case 0: return BitConverter.Int64BitsToDouble(((long)r.Next() << 32) ^ (long)(uint)r.Next() ^ ((long)r.Next(2) << 63)) is double d && !double.IsNaN(d) && !double.IsInfinity(d) ? d : 0.25;
                case 1: return (r.NextDouble() - 0.5) * Math.Pow(10, r.Next(-30, 30));
                case 2: return Math.Round(r.NextDouble() * 2e9, r.Next(0, 7));   // timestamps
                default: return r.Next(-1000, 1000) * Math.Pow(10, r.Next(-8, 24)); // around the switch to exponents
            }
        }

        static object RandomValue(Random r, int depth)
        {
            int kind = r.Next(depth >= 5 ? 6 : 9);
            switch (kind)
            {
                case 0: return null;
                case 1: return r.Next(2) == 0;
                case 2: return r.Next(3) == 0 ? (((long)r.Next() << 32) | (uint)r.Next()) * (r.Next(2) == 0 ? -1 : 1) : (long)r.Next(-100000, 100000);
                case 3: return r.Next(4) == 0 ? (object)((BigInteger.Pow(10, r.Next(19, 60)) + r.Next()) * (r.Next(2) == 0 ? -1 : 1)) : RandomDouble(r);
                case 4:
                case 5: return r.Next(3) == 0 ? Names[r.Next(Names.Length)] : RandomString(r);
                case 6:
                case 7:
                    var o = new NbObject();
                    int members = r.Next(0, 8);
                    for (int i = 0; i < members; i++)
                    {
                        string name = r.Next(2) == 0 ? Names[r.Next(Names.Length)] : RandomString(r);
                        if (!o.ContainsKey(name)) o.Add(name, RandomValue(r, depth + 1));
                    }
                    return o;
                default:
                    var list = new List<object>();
                    int items = r.Next(0, 6);
                    for (int i = 0; i < items; i++) list.Add(RandomValue(r, depth + 1));
                    return list;
            }
        }

        static object Nest(int levels) { object v = "deep"; for (int i = 0; i < levels; i++) v = i % 2 == 0 ? (object)new List<object> { v } : new NbObject { ["d"] = v }; return v; }

        /// <summary>The edge cases first, then the generated values; every top-level value an NB object, as stored.</summary>
        static List<NbObject> Values()
        {
            var values = new List<NbObject>();
            foreach (var d in EdgeDoubles) { values.Add(new NbObject { ["v"] = d }); values.Add(new NbObject { ["v"] = -d }); }
            foreach (var i in EdgeIntegers) values.Add(new NbObject { ["v"] = i });
            foreach (var s in EdgeStrings) { values.Add(new NbObject { ["v"] = s }); values.Add(new NbObject { [s] = 1L }); }
            values.Add(new NbObject { ["v"] = Nest(63) });   // 64 levels with the object around it: the most the reader takes
            values.Add(new NbObject());
            values.Add(new NbObject { ["l"] = new List<object>(), ["o"] = new NbObject(), ["n"] = null, ["t"] = true, ["f"] = false });
            var r = new Random(Seed);
            for (int i = 0; i < Generated; i++)
            {
                var o = new NbObject();
                int members = r.Next(0, 10);
                for (int m = 0; m < members; m++)
                {
                    string name = Names[r.Next(Names.Length)] + (r.Next(3) == 0 ? RandomString(r) : "");
                    if (!o.ContainsKey(name)) o.Add(name, RandomValue(r, 1));
                }
                values.Add(o);
            }
            return values;
        }

        // ---- An independent description of a value for Python: no JSON text of ours in it ----

        static void Describe(Utf8JsonWriter w, object value)
        {
            switch (value)
            {
                case null: w.WriteNullValue(); break;
                case bool b: w.WriteBooleanValue(b); break;
                case long l: w.WriteStartArray(); w.WriteStringValue("i"); w.WriteStringValue(l.ToString(CultureInfo.InvariantCulture)); w.WriteEndArray(); break;
                case BigInteger big: w.WriteStartArray(); w.WriteStringValue("i"); w.WriteStringValue(big.ToString(CultureInfo.InvariantCulture)); w.WriteEndArray(); break;
                case double d: w.WriteStartArray(); w.WriteStringValue("f"); w.WriteNumberValue(BitConverter.DoubleToInt64Bits(d)); w.WriteEndArray(); break;
                case string s: w.WriteStartArray(); w.WriteStringValue("s"); foreach (char c in s) w.WriteNumberValue((int)c); w.WriteEndArray(); break;
                case NbObject o:
                    w.WriteStartArray(); w.WriteStringValue("o");
                    foreach (var m in o) { Describe(w, m.Key); Describe(w, m.Value); }
                    w.WriteEndArray();
                    break;
                case List<object> list:
                    w.WriteStartArray(); w.WriteStringValue("l");
                    foreach (var item in list) Describe(w, item);
                    w.WriteEndArray();
                    break;
                default: throw new ArgumentException(value.GetType().Name);
            }
        }

        // Builds each described value (strings from their UTF-16 code units, doubles from their bits) and prints json.dumps of it, a line each.
        const string PythonScript =
            "import sys, json, struct\n" +
            "sys.setrecursionlimit(10000)\n" +
            "def build(d):\n" +
            "    if d is None or d is True or d is False: return d\n" +
            "    t = d[0]\n" +
            "    if t == 'i': return int(d[1])\n" +
            "    if t == 'f': return struct.unpack('<d', struct.pack('<q', d[1]))[0]\n" +
            "    if t == 's': return ''.join(map(chr, d[1:]))\n" +
            "    if t == 'l': return [build(x) for x in d[1:]]\n" +
            "    return dict((build(d[i]), build(d[i + 1])) for i in range(1, len(d), 2))\n" +
            "out = sys.stdout.buffer\n" +
            "for line in sys.stdin.buffer:\n" +
            "    out.write(json.dumps(build(json.loads(line))).encode('ascii') + b'\\n')\n";

        static List<string> PythonDumps(IReadOnlyList<NbObject> values)
        {
            var input = new MemoryStream();
            foreach (var v in values)
            {
                using (var w = new Utf8JsonWriter(input)) Describe(w, v);
                input.WriteByte((byte)'\n');
            }
            string text = Encoding.ASCII.GetString(Python.Run(PythonScript, input.ToArray()));
            var lines = text.Split('\n').ToList();
            Assert.Equal("", lines[lines.Count - 1]);
            lines.RemoveAt(lines.Count - 1);
            Assert.Equal(values.Count, lines.Count);
            return lines;
        }

        [PythonFact]
        public void The_writer_writes_exactly_what_pythons_json_dumps_writes_and_the_reader_takes_it_back()
        {
            var values = Values();
            var python = PythonDumps(values);
            var differences = new List<string>();
            for (int i = 0; i < values.Count; i++)
            {
                string ours = Encoding.ASCII.GetString(NbJson.Serialize(values[i]));
                if (ours != python[i]) { differences.Add($"#{i}: ours {Clip(ours)}\n    python {Clip(python[i])}"); continue; }
                // Python's text reads back as the same value, and as text written as the writer writes it.
                var back = NbJson.Parse(Encoding.ASCII.GetBytes(python[i]), out bool asWritten);
                if (!asWritten || !Same(values[i], back)) differences.Add($"#{i}: read back as another value or not as written: {Clip(python[i])}");
            }
            Assert.True(differences.Count == 0, $"{differences.Count} of {values.Count} values differ:\n" + string.Join("\n", differences.Take(20)));
        }

        [Fact]
        public void The_reader_reads_what_system_text_json_reads_in_every_format()
        {
            var differences = new List<string>();
            int compared = 0;
            var values = Values();
            for (int i = 0; i < values.Count; i++)
            {
                foreach (var text in Formats(values[i]))
                {
                    object ours;
                    try { ours = NbJson.Parse(text); }
                    catch (FormatException e) { differences.Add($"#{i}: {e.Message} in {Clip(Encoding.UTF8.GetString(text))}"); continue; }
                    if (!HasLoneSurrogate(values[i]))  // System.Text.Json does not read those back
                    using (var doc = JsonDocument.Parse(text, new JsonDocumentOptions { MaxDepth = 64 }))
                    {
                        string why = Compare(ours, doc.RootElement);
                        if (why != null) differences.Add($"#{i}: {why} in {Clip(Encoding.UTF8.GetString(text))}");
                    }
                    if (!Same(values[i], ours)) differences.Add($"#{i}: not the value written, in {Clip(Encoding.UTF8.GetString(text))}");
                    compared++;
                }
            }
            Assert.True(differences.Count == 0, $"{differences.Count} of {compared} texts differ:\n" + string.Join("\n", differences.Take(20)));
        }

        public static IEnumerable<object[]> InvalidTexts => new[]
        {
            "", " ", "{", "}", "{\"a\"}", "{\"a\": }", "{\"a\": 1,}", "[1,]", "[1 2]", "{'a': 1}", "{a: 1}", "01", "1.", ".5", "+1", "-", "1e", "1e+",
            "0x10", "NaN", "Infinity", "-Infinity", "tru", "nulls", "\"\\x\"", "\"\\u12\"", "\"\\u12g4\"", "\"a\tb\"", "\"\u0001\"", "\"open",
            "\"\xff\"", "\"\xc0\xaf\"", "\"\xed\xa0\x80\"", "\"\xe2\x82\"", "{} {}", "[1] x", "\ufeff{}",
            new string('[', 65) + new string(']', 65),
        }.Select(t => new object[] { t });

        [Theory]
        [MemberData(nameof(InvalidTexts))]
        public void Text_that_system_text_json_refuses_the_reader_refuses_too(string latin1)
        {
            byte[] text = Encoding.Latin1.GetBytes(latin1); // \xNN: that byte
            // System.Text.Json checks the UTF-8 of a string when it is read: read them all.
            Assert.True(Record.Exception(() => { using (var doc = JsonDocument.Parse(text, new JsonDocumentOptions { MaxDepth = 64 })) ReadStrings(doc.RootElement); })
                is JsonException || Record.Exception(() => { using (var doc = JsonDocument.Parse(text)) ReadStrings(doc.RootElement); }) is InvalidOperationException);
            Assert.StartsWith("not valid JSON: ", Assert.Throws<FormatException>(() => NbJson.Parse(text)).Message);
        }

        static void ReadStrings(JsonElement e)
        {
            if (e.ValueKind == JsonValueKind.String) e.GetString();
            else if (e.ValueKind == JsonValueKind.Array) foreach (var item in e.EnumerateArray()) ReadStrings(item);
            else if (e.ValueKind == JsonValueKind.Object) foreach (var p in e.EnumerateObject()) { _ = p.Name; ReadStrings(p.Value); }
        }

        [Fact]
        public void The_readers_differ_only_where_the_module_refuses_what_would_drop_data()
        {
            // Duplicate members: System.Text.Json and Python keep the last; the reader refuses, as taking one would drop the other.
            byte[] twice = Encoding.ASCII.GetBytes("{\"a\": 1, \"a\": 2}");
            using (JsonDocument.Parse(twice)) { }
            Assert.Contains("member 'a' appears twice", Assert.Throws<FormatException>(() => NbJson.Parse(twice)).Message);
            // 64 levels are read by both.
            byte[] deep = Encoding.ASCII.GetBytes(new string('[', 64) + new string(']', 64));
            using (JsonDocument.Parse(deep, new JsonDocumentOptions { MaxDepth = 64 })) { }
            Assert.IsType<List<object>>(NbJson.Parse(deep));
        }

        // The value as the writer writes it, and as System.Text.Json writes it (compact; other escapes, raw UTF-8, upper-case hex).
        static IEnumerable<byte[]> Formats(object value)
        {
            yield return NbJson.Serialize(value);
            if (HasLoneSurrogate(value)) yield break; // System.Text.Json neither writes nor reads those back as text
            var options = new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping, SkipValidation = true };
            foreach (var o in new[] { default(JsonWriterOptions), options, new JsonWriterOptions { Indented = true } })
            {
                var buffer = new MemoryStream();
                using (var w = new Utf8JsonWriter(buffer, o)) WriteStj(w, value);
                yield return buffer.ToArray();
            }
        }

        static void WriteStj(Utf8JsonWriter w, object value)
        {
            switch (value)
            {
                case null: w.WriteNullValue(); break;
                case bool b: w.WriteBooleanValue(b); break;
                case long l: w.WriteNumberValue(l); break;
                case BigInteger big: w.WriteRawValue(big.ToString(CultureInfo.InvariantCulture)); break;
                case double d: w.WriteRawValue(d.ToString("E16", CultureInfo.InvariantCulture)); break; // 17 digits, 'E', 3-digit exponent: a double in any reader
                case string s: w.WriteStringValue(s); break;
                case NbObject o: w.WriteStartObject(); foreach (var m in o) { w.WritePropertyName(m.Key); WriteStj(w, m.Value); } w.WriteEndObject(); break;
                case List<object> list: w.WriteStartArray(); foreach (var item in list) WriteStj(w, item); w.WriteEndArray(); break;
            }
        }

        static bool HasLoneSurrogate(object value)
        {
            switch (value)
            {
                case string s:
                    for (int i = 0; i < s.Length; i++)
                    {
                        if (char.IsHighSurrogate(s[i]) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1])) { i++; continue; }
                        if (char.IsSurrogate(s[i])) return true;
                    }
                    return false;
                case NbObject o: return o.Any(m => HasLoneSurrogate(m.Key) || HasLoneSurrogate(m.Value));
                case List<object> list: return list.Any(HasLoneSurrogate);
                default: return false;
            }
        }

        /// <summary>Why our value differs from System.Text.Json's reading of the same text; null when it does not.</summary>
        static string Compare(object ours, JsonElement e)
        {
            switch (e.ValueKind)
            {
                case JsonValueKind.Null: return ours == null ? null : "null read as " + ours;
                case JsonValueKind.True: return true.Equals(ours) ? null : "true read as " + ours;
                case JsonValueKind.False: return false.Equals(ours) ? null : "false read as " + ours;
                case JsonValueKind.String: return ours is string s && s == e.GetString() ? null : $"string {e.GetRawText()} read as {ours}";
                case JsonValueKind.Number:
                    string raw = e.GetRawText();
                    bool integer = raw.IndexOfAny(new[] { '.', 'e', 'E' }) < 0;
                    if (integer && e.TryGetInt64(out long l)) return ours is long ol && ol == l && !(raw.StartsWith("-0")) || (raw == "-0" && ours is long z && z == 0) ? null : $"{raw} read as {ours}";
                    if (integer) return ours is BigInteger b && b == BigInteger.Parse(raw, CultureInfo.InvariantCulture) ? null : $"{raw} read as {ours}";
                    return ours is double d && BitConverter.DoubleToInt64Bits(d) == BitConverter.DoubleToInt64Bits(e.GetDouble()) ? null : $"{raw} read as {ours}";
                case JsonValueKind.Array:
                    if (!(ours is List<object> list) || list.Count != e.GetArrayLength()) return "an array read otherwise";
                    int k = 0;
                    foreach (var item in e.EnumerateArray()) { var why = Compare(list[k++], item); if (why != null) return why; }
                    return null;
                default:
                    if (!(ours is NbObject o)) return "an object read otherwise";
                    int at = 0;
                    foreach (var p in e.EnumerateObject())
                    {
                        if (at >= o.Count || o.NameAt(at) != p.Name) return $"member {at} read as another name";
                        var why = Compare(o.ValueAt(at++), p.Value);
                        if (why != null) return why;
                    }
                    return at == o.Count ? null : "an object read with other members";
            }
        }

        /// <summary>Deep equality of read values: doubles by their bits (-0.0 is not 0.0), members in order.</summary>
        static bool Same(object a, object b)
        {
            switch (a)
            {
                case null: return b == null;
                case double d: return b is double e && BitConverter.DoubleToInt64Bits(d) == BitConverter.DoubleToInt64Bits(e);
                case NbObject o:
                    if (!(b is NbObject p) || p.Count != o.Count) return false;
                    for (int i = 0; i < o.Count; i++) if (o.NameAt(i) != p.NameAt(i) || !Same(o.ValueAt(i), p.ValueAt(i))) return false;
                    return true;
                case List<object> l:
                    return b is List<object> m && m.Count == l.Count && l.Zip(m, Same).All(x => x);
                default: return a.Equals(b);
            }
        }

        static string Clip(string s) => s.Length > 300 ? s.Substring(0, 300) + "..." : s;
    }
}
