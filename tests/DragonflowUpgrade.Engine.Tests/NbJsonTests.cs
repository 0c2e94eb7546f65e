using System;
using System.Collections.Generic;
using System.Linq;
using System.Numerics;
using System.Text;
using DragonflowUpgrade.Engine.Json;
using Xunit;

namespace DragonflowUpgrade.Engine.Tests
{
    public class NbJsonTests
    {
        static object Parse(string json) => NbJson.Parse(Encoding.UTF8.GetBytes(json));

        static string Text(object value) => Encoding.UTF8.GetString(NbJson.Serialize(value));

        [Fact]
        public void Serializes_as_pythons_json_dumps_does()
        {
            var o = new NbObject { ["id"] = "p1", ["ips"] = new List<object> { "10.0.0.1", "fe80::1" }, ["n"] = 3, ["x"] = 2.0, ["name"] = "caf\u00e9", ["ok"] = true, ["none"] = null };
            Assert.Equal("{\"id\": \"p1\", \"ips\": [\"10.0.0.1\", \"fe80::1\"], \"n\": 3, \"x\": 2.0, \"name\": \"caf\\u00e9\", \"ok\": true, \"none\": null}", Text(o));
        }

        [Theory]
        [InlineData("{\"t\":1503312312.125,\"i\":7,\"n\":-3,\"z\":0}", "{\"t\": 1503312312.125, \"i\": 7, \"n\": -3, \"z\": 0}")]
        [InlineData("{\"big\": 123456789012345678901234567890, \"e\": 1e-05, \"f\": 2.5E+20}", "{\"big\": 123456789012345678901234567890, \"e\": 1e-05, \"f\": 2.5e+20}")]
        [InlineData("{ \"s\" : \"a\\\"b\\\\c\\/d\\n\\u00e9\\ud83d\\ude00\" , \"l\" : [ ] , \"o\" : { } }", "{\"s\": \"a\\\"b\\\\c/d\\n\\u00e9\\ud83d\\ude00\", \"l\": [], \"o\": {}}")]
        [InlineData("[true, false, null, \"caf\u00e9\"]", "[true, false, null, \"caf\\u00e9\"]")]
        public void Parsed_values_are_written_back_as_python_writes_them(string json, string expected)
        {
            Assert.Equal(expected, Text(Parse(json)));
        }

        [Theory]
        [InlineData(1e16, "1e+16")]
        [InlineData(-3.45e16, "-3.45e+16")]
        [InlineData(1.2345678901234568e16, "1.2345678901234568e+16")]
        [InlineData(1e17, "1e+17")]
        [InlineData(1e22, "1e+22")]
        [InlineData(1e100, "1e+100")]
        [InlineData(1e15, "1000000000000000.0")]
        [InlineData(9999999999999998.0, "9999999999999998.0")]
        [InlineData(1e-5, "1e-05")]
        [InlineData(0.0001, "0.0001")]
        [InlineData(5e-324, "5e-324")]
        [InlineData(-0.0, "-0.0")]
        public void Doubles_are_written_as_pythons_repr_writes_them(double value, string expected)
        {
            // .NET writes 1e16 up to 1e17 positionally; Python switches to an exponent at 1e16.
            Assert.Equal(expected, NbJson.FormatDouble(value));
            Assert.Equal(value, (double)NbJson.Parse(Encoding.ASCII.GetBytes(expected), out bool asWritten));
            Assert.True(asWritten);
        }

        [Fact]
        public void Values_are_plain_dotnet_values()
        {
            var o = (NbObject)Parse("{\"s\": \"x\", \"i\": 7, \"big\": 99999999999999999999, \"d\": 1.5, \"b\": true, \"n\": null, \"l\": [1], \"o\": {\"k\": \"v\"}}");
            Assert.Equal("x", o["s"]);
            Assert.Equal(7L, o["i"]);
            Assert.Equal(BigInteger.Parse("99999999999999999999"), o["big"]);
            Assert.Equal(1.5, o["d"]);
            Assert.Equal(true, o["b"]);
            Assert.Null(o["n"]);
            Assert.True(o.ContainsKey("n"));
            Assert.Null(o["missing"]);
            Assert.False(o.ContainsKey("missing"));
            Assert.Equal(new List<object> { 1L }, o["l"]);
            Assert.Equal("v", ((NbObject)o["o"])["k"]);
        }

        [Theory]
        [InlineData("{\"a\": 1,}", "a member name should be here at byte 8")]
        [InlineData("{\"a\" 1}", "':' should follow a member name at byte 5")]
        [InlineData("{\"a\": 1} x", "more text after the value at byte 9")]
        [InlineData("{\"a\": tru}", "an unknown word at byte 6")]
        [InlineData("{\"a\": 01}", "not a number at byte 6")]
        [InlineData("{\"a\": \"x}", "a string is not closed at byte 6")]
        [InlineData("{\"a\": \"\\q\"}", "an unknown escape at byte 7")]
        [InlineData("{\"a\": \"\\u00g9\"}", "'\\u' needs four hex digits at byte 7")]
        [InlineData("{\"a\": \"\\u000\0\"}", "'\\u' needs four hex digits at byte 7")]  // NULs after hex digits: int.Parse ignores them
        [InlineData("{\"a\": \"\\u00e\0\"}", "'\\u' needs four hex digits at byte 7")]
        [InlineData("{\"a\": \"\\u0\0\0\0\"}", "'\\u' needs four hex digits at byte 7")]
        [InlineData("{\"a\": \"\\u00e\"}", "'\\u' needs four hex digits at byte 7")]
        [InlineData("{\"a\": 1, \"a\": 2}", "member 'a' appears twice at byte 9")]
        [InlineData("", "the text ends where a value should be at byte 0")]
        public void Malformed_json_is_an_error_saying_what_and_where(string json, string message)
        {
            var e = Assert.Throws<FormatException>(() => Parse(json));
            Assert.Equal("not valid JSON: " + message + ".", e.Message);
        }

        [Fact]
        public void Invalid_utf8_and_deep_nesting_are_errors()
        {
            Assert.Contains("not UTF-8", Assert.Throws<FormatException>(() => NbJson.Parse(new byte[] { (byte)'"', 0xff, (byte)'"' })).Message);
            Assert.Contains("nested deeper than 64", Assert.Throws<FormatException>(() => Parse(new string('[', 65) + new string(']', 65))).Message);
            Assert.Equal(new string('[', 64) + new string(']', 64), Text(Parse(new string('[', 64) + new string(']', 64))));
        }

        [Fact]
        public void A_value_that_json_cannot_hold_is_an_error_naming_its_type()
        {
            var e = Assert.Throws<FormatException>(() => NbJson.Serialize(new NbObject { ["when"] = DateTime.UtcNow }));
            Assert.Contains("System.DateTime", e.Message);
        }

        [Fact]
        public void An_object_keeps_member_order_through_removes_and_clones_deeply()
        {
            var o = (NbObject)Parse("{\"a\": 1, \"b\": {\"c\": [1, 2]}, \"d\": 3}");
            Assert.True(o.Remove("a"));
            Assert.False(o.Remove("a"));
            o["e"] = 4;
            var copy = o.Clone();
            ((List<object>)((NbObject)copy["b"])["c"]).Add(3L);
            Assert.Equal(new[] { "b", "d", "e" }, o.Keys);
            Assert.Equal("{\"b\": {\"c\": [1, 2]}, \"d\": 3, \"e\": 4}", Text(o));
            Assert.Equal("{\"b\": {\"c\": [1, 2, 3]}, \"d\": 3, \"e\": 4}", Text(copy));
            Assert.Throws<ArgumentException>(() => o.Add("d", 5));
        }

        [Fact]
        public void Reading_the_values_of_some_members_keeps_every_member_in_order_and_reads_those_whole()
        {
            var text = Encoding.UTF8.GetBytes("{\"id\": \"x\", \"a\": {\"b\": [1, {\"c\": 2.5}]}, \"n\": null, \"t\": true, \"k\": {\"a\": {\"q\": [1]}}, \"s\": \"caf\u00e9\"}");
            var o = (NbObject)NbJson.ParseAllMembers(text, out bool asWritten, valuesOf: new HashSet<string> { "k", "missing" })!;
            Assert.Equal(new[] { "id", "a", "n", "t", "k", "s" }, o.Keys);
            Assert.All(new[] { "id", "a", "n", "t", "s" }, name => Assert.Same(NbJson.Unread, o[name]));
            Assert.Equal("{\"a\": {\"q\": [1]}}", Text(o["k"]!));
            NbJson.Parse(text, out bool asWrittenWhole);
            Assert.Equal(asWrittenWhole, asWritten);
        }

        // A value whose value is not read is still read as JSON: the same text gives the same error, at the same byte.
        [Theory]
        [InlineData("{\"a\": [1, 2,], \"k\": 1}")]
        [InlineData("{\"a\": {\"b\": 01}, \"k\": 1}")]
        [InlineData("{\"a\": {\"b\" 1}, \"k\": 1}")]
        [InlineData("{\"a\": \"\\q\", \"k\": 1}")]
        [InlineData("{\"a\": \"\\u000\0\", \"k\": 1}")]
        [InlineData("{\"a\": [tru], \"k\": 1}")]
        [InlineData("{\"a\": \"x\u0001\", \"k\": 1}")]
        [InlineData("{\"a\": \"x}")]
        [InlineData("{\"a\": 1.}")]
        public void Members_whose_values_are_not_read_are_still_checked_as_json(string json)
        {
            var whole = Assert.Throws<FormatException>(() => NbJson.ParseAllMembers(Encoding.UTF8.GetBytes(json), out _));
            var some = Assert.Throws<FormatException>(() => NbJson.ParseAllMembers(Encoding.UTF8.GetBytes(json), out _, valuesOf: new HashSet<string> { "k" }));
            Assert.Equal(whole.Message, some.Message);
            // Nested too deep, and bytes that are not UTF-8, in a string and in an escaped one.
            var deep = Encoding.UTF8.GetBytes("{\"a\": " + new string('[', 64) + new string(']', 64) + "}");
            Assert.Contains("nested deeper than 64", Assert.Throws<FormatException>(() => NbJson.ParseAllMembers(deep, out _, valuesOf: new HashSet<string>())).Message);
            foreach (var s in new[] { "{\"a\": \"x\u00ff\"}", "{\"a\": \"\\n\u00ff\"}" })
            {
                var bytes = Encoding.Latin1.GetBytes(s);
                var e = Assert.Throws<FormatException>(() => NbJson.ParseAllMembers(bytes, out _, valuesOf: new HashSet<string>()));
                Assert.Equal(Assert.Throws<FormatException>(() => NbJson.ParseAllMembers(bytes, out _)).Message, e.Message);
                Assert.Contains("not UTF-8", e.Message);
            }
        }

        // The plain text of a string is passed over many bytes at a time: whatever ends it is found
        // wherever it is, before, across and after the widths read at once (16, 32 and 64 bytes).
        [Theory]
        [InlineData("\"")]            // the closing quote
        [InlineData("\\n")]           // an escape
        [InlineData("\\u00e9")]       // an escape as Python writes it
        [InlineData("\u00e9")]        // a character outside ASCII, as UTF-8 (Python escapes it)
        [InlineData("\u007f")]        // DEL, the first byte above printable ASCII (Python escapes it too)
        [InlineData("\u0001")]        // a control character: an error
        public void A_string_is_read_alike_whatever_ends_its_plain_text_and_wherever_it_is(string stop)
        {
            for (int before = 0; before <= 70; before++)
            {
                string text = stop == "\""
                    ? "{\"k\": \"" + new string('a', before) + "\"}"
                    : "{\"k\": \"" + new string('a', before) + stop + new string('b', 70 - before) + "\"}";
                var utf8 = Encoding.UTF8.GetBytes(text);
                if (stop == "\u0001")
                {
                    string error = $"not valid JSON: a control character inside a string at byte {7 + before}.";
                    Assert.Equal(error, Assert.Throws<FormatException>(() => NbJson.Parse(utf8)).Message);
                    Assert.Equal(error, Assert.Throws<FormatException>(() => NbJson.ParseAllMembers(utf8, out _, valuesOf: new HashSet<string>())).Message);
                    continue;
                }
                var value = (NbObject)NbJson.Parse(utf8, out bool asWritten);
                using (var doc = System.Text.Json.JsonDocument.Parse(utf8))
                    Assert.Equal(doc.RootElement.GetProperty("k").GetString(), (string)value["k"]);
                Assert.Equal(Text(value) == text, asWritten);
                Assert.Equal(stop[0] == '"' || stop[0] == '\\', asWritten);   // raw text outside printable ASCII is written escaped
                NbJson.ParseAllMembers(utf8, out bool skippedAsWritten, valuesOf: new HashSet<string>());
                Assert.Equal(asWritten, skippedAsWritten);
            }
        }

        // Every byte, in the plain text of a string, at the edges of the widths read at once: NbJson
        // refuses what System.Text.Json refuses, reads the same text from the rest, and knows whether it is as written.
        [Fact]
        public void Every_byte_in_a_string_is_read_as_System_Text_Json_reads_it()
        {
            foreach (int at in new[] { 0, 15, 16, 31, 32, 47 })
                for (int b = 0; b < 256; b++)
                {
                    var utf8 = Encoding.ASCII.GetBytes("{\"k\": \"" + new string('a', 48) + "\"}");
                    utf8[7 + at] = (byte)b;
                    string? expected;
                    try { using (var doc = System.Text.Json.JsonDocument.Parse(utf8)) expected = doc.RootElement.GetProperty("k").GetString(); }
                    catch (Exception e) when (e is System.Text.Json.JsonException || e is InvalidOperationException) { expected = null; }  // bytes not UTF-8: refused by GetString
                    string what = $"byte 0x{b:x2} at {at}";
                    if (expected == null)
                    {
                        var e = Assert.Throws<FormatException>(() => NbJson.Parse(utf8));
                        Assert.Equal(e.Message, Assert.Throws<FormatException>(() => NbJson.ParseAllMembers(utf8, out _, valuesOf: new HashSet<string>())).Message);
                        continue;
                    }
                    var value = (NbObject)NbJson.Parse(utf8, out bool asWritten);
                    Assert.True(expected == (string)value["k"], what);
                    Assert.True(NbJson.Serialize(value).AsSpan().SequenceEqual(utf8) == asWritten, what);
                    NbJson.ParseAllMembers(utf8, out bool skippedAsWritten, valuesOf: new HashSet<string>());
                    Assert.True(asWritten == skippedAsWritten, what);
                }
        }

        [Theory]
        [InlineData("{\"a\": 1, \"b\": [1, -2], \"c\": {\"d\": \"caf\\u00e9\\ud83d\\ude00\"}, \"e\": 1.5, \"f\": null, \"g\": true, \"h\": \"x\\\"y\\n\\u0001\", \"i\": [], \"j\": {}}", true)]
        [InlineData("{\"a\":1}", false)]
        [InlineData("{\"a\": 1 }", false)]
        [InlineData(" {\"a\": 1}", false)]
        [InlineData("[1,2]", false)]
        [InlineData("[ 1, 2]", false)]
        [InlineData("{\"s\": \"a\\/b\"}", false)]
        [InlineData("{\"s\": \"caf\\u00E9\"}", false)]
        [InlineData("{\"s\": \"caf\u00e9\"}", false)]
        [InlineData("{\"s\": \"\\u0041\"}", false)]
        [InlineData("{\"s\": \"\\u000a\"}", false)]
        [InlineData("{\"n\": 1.50}", false)]
        [InlineData("{\"n\": 1E+20}", false)]
        [InlineData("{\"n\": -0}", false)]
        [InlineData("{\"a\":  1}", false)]
        [InlineData("{\"a\":\t1}", false)]
        [InlineData("{\"a\": \t1}", false)]
        [InlineData("{\"a\": 1,\n \"b\": 2}", false)]
        [InlineData("[1, 2 ]", false)]
        [InlineData("[1,  2]", false)]
        [InlineData("1 ", false)]
        [InlineData("[1, 2]", true)]
        public void Parsing_tells_whether_the_text_is_exactly_as_it_would_be_written(string json, bool asWritten)
        {
            var value = NbJson.Parse(Encoding.UTF8.GetBytes(json), out bool parsedAsWritten);
            Assert.Equal(asWritten, parsedAsWritten);
            // The same when no member's value is read.
            NbJson.ParseAllMembers(Encoding.UTF8.GetBytes(json), out bool skippedAsWritten, valuesOf: new HashSet<string>());
            Assert.Equal(asWritten, skippedAsWritten);
            Assert.Equal(asWritten, Text(value) == json);
        }

        [Theory]
        [InlineData("{\"a\": 1, \"b\": [1, 2]}", "{\"a\":1.0,\"b\":[1,2]}", true)]
        [InlineData("{\"s\": \"caf\\u00e9\"}", "{\"s\":\"caf\u00e9\"}", true)]
        [InlineData("{\"a\": 1, \"b\": 2}", "{\"b\": 2, \"a\": 1}", false)]
        [InlineData("{\"a\": 1}", "{\"a\": 2}", false)]
        [InlineData("{\"a\": 1}", "{\"a\": 1, \"b\": null}", false)]
        [InlineData("[1, 2]", "[2, 1]", false)]
        [InlineData("{\"e\": 1e2, \"s\": \"a\\/b\", \"l\": [ true , null ]}", "{\"e\": 100.0, \"s\": \"a/b\", \"l\": [true, null]}", true)]
        [InlineData("{\"big\": 123456789012345678901234567890}", "{\"big\": 123456789012345678901234567891}", false)]
        [InlineData("{\"b\": true}", "{\"b\": false}", false)]
        [InlineData("{\"s\": \"ab\"}", "{\"s\": \"a\\u0062\"}", true)]
        [InlineData("{\"s\": \"ab\"}", "{\"s\": \"abc\"}", false)]
        public void Same_data_ignores_formatting_but_not_member_order(string a, string b, bool same)
        {
            Assert.Equal(same, NbJson.SameData(Encoding.UTF8.GetBytes(a), Encoding.UTF8.GetBytes(b)));
        }
    }
}
