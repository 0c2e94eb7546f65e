using System.Text;
using System.Text.Json.Nodes;
using DragonflowUpgrade.Engine.Json;
using Xunit;

namespace DragonflowUpgrade.Engine.Tests
{
    public class NbJsonTests
    {
        [Fact]
        public void Serializes_as_pythons_json_dumps_does()
        {
            var o = new JsonObject { ["id"] = "p1", ["ips"] = new JsonArray("10.0.0.1", "fe80::1"), ["n"] = 3, ["x"] = 2.0, ["name"] = "caf\u00e9", ["ok"] = true, ["none"] = null };
            Assert.Equal("{\"id\": \"p1\", \"ips\": [\"10.0.0.1\", \"fe80::1\"], \"n\": 3, \"x\": 2.0, \"name\": \"caf\\u00e9\", \"ok\": true, \"none\": null}",
                Encoding.UTF8.GetString(NbJson.Serialize(o)));
        }

        [Fact]
        public void Parsed_numbers_keep_their_text()
        {
            var o = NbJson.Parse(Encoding.UTF8.GetBytes("{\"t\":1503312312.125,\"i\":7}"));
            Assert.Equal("{\"t\": 1503312312.125, \"i\": 7}", Encoding.UTF8.GetString(NbJson.Serialize(o)));
        }

        [Theory]
        [InlineData("{\"a\": 1, \"b\": [1, 2]}", "{\"a\":1.0,\"b\":[1,2]}", true)]
        [InlineData("{\"s\": \"caf\\u00e9\"}", "{\"s\":\"caf\u00e9\"}", true)]
        [InlineData("{\"a\": 1, \"b\": 2}", "{\"b\": 2, \"a\": 1}", false)]
        [InlineData("{\"a\": 1}", "{\"a\": 2}", false)]
        [InlineData("{\"a\": 1}", "{\"a\": 1, \"b\": null}", false)]
        [InlineData("[1, 2]", "[2, 1]", false)]
        public void Same_data_ignores_formatting_but_not_member_order(string a, string b, bool same)
        {
            Assert.Equal(same, NbJson.SameData(Encoding.UTF8.GetBytes(a), Encoding.UTF8.GetBytes(b)));
        }
    }
}
