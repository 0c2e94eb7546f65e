using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using DragonflowUpgrade.Engine.Schema;
using DragonflowUpgrade.Engine.Store;
using Xunit;

namespace DragonflowUpgrade.Engine.Tests
{
    // The validator's verdicts and messages on the edges of JSON: numbers in every form, escapes,
    // members named twice, nesting, and text that is not JSON. A message quotes a wrong value as
    // it is stored, spacing and escapes included.
    public class SchemaValidatorTests
    {
        const string Manifest = @"{
  ""release"": ""test"",
  ""tables"": {
    ""thing"": { ""fields"": {
      ""id"": { ""type"": ""string"", ""required"": true },
      ""name"": { ""type"": ""string"" },
      ""count"": { ""type"": ""int"" },
      ""ratio"": { ""type"": ""float"" },
      ""seen"": { ""type"": ""timestamp"" },
      ""up"": { ""type"": ""bool"" },
      ""state"": { ""type"": ""enum"", ""values"": [""ACTIVE"", ""DOWN""] },
      ""ip"": { ""type"": ""ipaddress"" },
      ""cidr"": { ""type"": ""ipnetwork"" },
      ""mac"": { ""type"": ""macaddress"" },
      ""ports"": { ""type"": ""portrange"" },
      ""tags"": { ""type"": ""list"", ""items"": { ""type"": ""string"" } },
      ""labels"": { ""type"": ""dict"", ""values"": { ""type"": ""int"" } },
      ""owner"": { ""type"": ""reference"", ""table"": ""net"" },
      ""subnet"": { ""type"": ""reference"", ""model"": ""subnet"", ""embeddedIn"": ""net.subnets"" },
      ""extra"": { ""type"": ""embedded"", ""model"": ""extra"" }
    } },
    ""net"": { ""fields"": {
      ""id"": { ""type"": ""string"", ""required"": true },
      ""subnets"": { ""type"": ""list"", ""items"": { ""type"": ""embedded"", ""model"": ""subnet"" } }
    } },
    ""counter"": { ""value"": { ""type"": ""int"" } }
  },
  ""models"": {
    ""subnet"": { ""fields"": { ""id"": { ""type"": ""string"", ""required"": true }, ""cidr"": { ""type"": ""ipnetwork"" } } },
    ""extra"": { ""fields"": { ""level"": { ""type"": ""int"", ""required"": true } } }
  }
}";

        static readonly SchemaManifest Schema = SchemaManifest.Load(new MemoryStream(Encoding.UTF8.GetBytes(Manifest)), "test.json");

        static NbEntry Entry(string table, string id, byte[] value) => new NbEntry(new NbKey(table, null, id), value);

        static readonly NbEntry Net = Entry("net", "n1", Encoding.UTF8.GetBytes("{\"id\": \"n1\", \"subnets\": [{\"id\": \"s1\", \"cidr\": \"10.0.0.0/24\"}]}"));

        static string Errors(string table, string id, byte[] value, NbEntry? net = null) =>
            string.Join(" | ", SchemaValidator.Validate(Schema, new[] { net ?? Net, Entry(table, id, value) }, _ => false).Select(e => e.ToString()));

        static string Errors(string table, string id, string value) => Errors(table, id, Encoding.UTF8.GetBytes(value));

        // thing/t1 with these members after its id.
        static string Thing(string members) => Errors("thing", "t1", "{\"id\":\"t1\"," + members + "}");

        [Theory]
        [InlineData("\"count\":1", "")]
        [InlineData("\"count\":-0", "")]
        [InlineData("\"count\":9223372036854775807", "")]
        [InlineData("\"count\":-9223372036854775808", "")]
        [InlineData("\"count\":9223372036854775808", "thing/t1 field count: must be an integer, not a number 9223372036854775808")]
        [InlineData("\"count\":-9223372036854775809", "thing/t1 field count: must be an integer, not a number -9223372036854775809")]
        [InlineData("\"count\":123456789012345678901234567890123456789012345", "thing/t1 field count: must be an integer, not a number 1234567890123456789012345678901234567890…")]
        [InlineData("\"count\":1.0", "thing/t1 field count: must be an integer, not a number 1.0")]
        [InlineData("\"count\":1e3", "thing/t1 field count: must be an integer, not a number 1e3")]
        [InlineData("\"count\":1E+3", "thing/t1 field count: must be an integer, not a number 1E+3")]
        [InlineData("\"count\":10.50", "thing/t1 field count: must be an integer, not a number 10.50")]
        [InlineData("\"count\":-0.0", "thing/t1 field count: must be an integer, not a number -0.0")]
        [InlineData("\"ratio\":1", "")]
        [InlineData("\"ratio\":-0.0", "")]
        [InlineData("\"ratio\":1e400", "")]
        [InlineData("\"ratio\":123456789012345678901234567890", "")]
        [InlineData("\"ratio\":\"1.5\"", "thing/t1 field ratio: must be a number, not a string \"1.5\"")]
        [InlineData("\"seen\":1503312312.125", "")]
        [InlineData("\"ports\":[1, 65535]", "")]
        [InlineData("\"ports\":[-2147483648,2147483647]", "")]
        [InlineData("\"ports\":[1, 2147483648]", "thing/t1 field ports: must be a port range [min, max], not [1, 2147483648]")]
        [InlineData("\"ports\":[1.0, 2]", "thing/t1 field ports: must be a port range [min, max], not [1.0, 2]")]
        [InlineData("\"ports\":[ 1 ,2 , 3 ]", "thing/t1 field ports: must be a port range [min, max], not [ 1 ,2 , 3 ]")]
        [InlineData("\"ports\":\"1-2\"", "thing/t1 field ports: must be a port range [min, max], not \"1-2\"")]
        public void Numbers_are_judged_by_their_value_and_quoted_as_stored(string members, string expected)
        {
            Assert.Equal(expected, Thing(members));
        }

        [Fact]
        public void A_number_beyond_a_doubles_range_in_the_wrong_place_is_named_not_a_crash()
        {
            Assert.StartsWith("thing/t1 field count: must be an integer, not a number ", Thing("\"count\":1e400"));
            Assert.StartsWith("thing/t1 field state: ", Thing("\"state\":-1e400"));
        }

        [Fact]
        public void An_integer_of_more_digits_than_python_reads_is_refused_at_once()
        {
            Assert.Equal("", Thing("\"ratio\":" + new string('9', 4300)));
            Assert.Contains("an integer of more than 4300 digits, which Python does not read", Thing("\"ratio\":" + new string('9', 1000000)));
        }

        [Theory]
        [InlineData("\"name\":\"caf\\u00e9\\/x\\n\\ud800\"", "")]
        [InlineData("\"count\":\"caf\\u00e9\\/x\"", "thing/t1 field count: must be an integer, not a string \"caf\\u00e9\\/x\"")]
        [InlineData("\"count\":\"caf\u00e9\"", "thing/t1 field count: must be an integer, not a string \"caf\u00e9\"")]
        [InlineData("\"count\":\"\\uD83D\\uDE00\"", "thing/t1 field count: must be an integer, not a string \"\\uD83D\\uDE00\"")]
        [InlineData("\"state\":\"\\u0041CTIVE\"", "")]
        [InlineData("\"state\":\"b\\u00e9\"", "thing/t1 field state: 'b\u00e9' is not one of ACTIVE, DOWN")]
        [InlineData("\"state\":\"active\"", "thing/t1 field state: 'active' is not one of ACTIVE, DOWN")]
        [InlineData("\"mac\":\"FA:16:3e:00:00:0\\u0031\"", "")]
        [InlineData("\"mac\":\"fa:16:3e:00:00\"", "thing/t1 field mac: 'fa:16:3e:00:00' is not a MAC address")]
        [InlineData("\"mac\":1", "thing/t1 field mac: must be a MAC address, not a number 1")]
        [InlineData("\"ip\":\"\\u0031\\u0030.0.0.1\"", "")]
        [InlineData("\"ip\":\"fe80::1\"", "")]
        [InlineData("\"ip\":\"1\"", "thing/t1 field ip: '1' is not an IP address")]
        [InlineData("\"ip\":\"10.0.0.300\"", "thing/t1 field ip: '10.0.0.300' is not an IP address")]
        [InlineData("\"cidr\":\"::/128\"", "")]
        [InlineData("\"cidr\":\"10.0.0.0/33\"", "thing/t1 field cidr: '10.0.0.0/33' is not an IP network (address/prefix length)")]
        [InlineData("\"cidr\":\"::/129\"", "thing/t1 field cidr: '::/129' is not an IP network (address/prefix length)")]
        [InlineData("\"owner\":\"n\\u0031\"", "")]
        [InlineData("\"owner\":\"n2\"", "thing/t1 field owner: refers to net/n2, which does not exist")]
        [InlineData("\"subnet\":\"s\\u0031\"", "")]
        [InlineData("\"subnet\":\"s2\"", "thing/t1 field subnet: refers to subnet 's2', which no net.subnets holds")]
        public void Strings_are_judged_unescaped_and_quoted_as_stored(string members, string expected)
        {
            Assert.Equal(expected, Thing(members));
        }

        [Theory]
        [InlineData("\"name\":{\"a\":1}", "thing/t1 field name: must be a string, not an object {\"a\":1}")]
        [InlineData("\"name\":{ \"a\" : [1,2.50] }", "thing/t1 field name: must be a string, not an object { \"a\" : [1,2.50] }")]
        [InlineData("\"name\":[]", "thing/t1 field name: must be a string, not a list []")]
        [InlineData("\"name\":true", "thing/t1 field name: must be a string, not a bool true")]
        [InlineData("\"name\":null", "")]
        [InlineData("\"up\":\"true\"", "thing/t1 field up: must be true or false, not a string \"true\"")]
        [InlineData("\"up\":null,\"tags\":[\"a\", 1.50],\"labels\":{\"a\":1,\"b\":\"x\"}",
            "thing/t1 field tags[1]: must be a string, not a number 1.50 | thing/t1 field labels.b: must be an integer, not a string \"x\"")]
        [InlineData("\"extra\":{\"level\":1}", "")]
        [InlineData("\"extra\":{}", "thing/t1 field extra.level: is required but missing")]
        [InlineData("\"extra\":{\"level\":null,\"other\":2}", "thing/t1 field extra.level: is required but null | thing/t1 field extra.other: is not a field of extra in release test")]
        [InlineData("\"nope\":1", "thing/t1 field nope: is not a field of thing in release test")]
        public void Structures_are_checked_member_by_member(string members, string expected)
        {
            Assert.Equal(expected, Thing(members));
        }

        [Theory]
        [InlineData("\"name\":1,\"name\":\"x\"", "thing/t1 field name: must be a string, not a number 1")]
        [InlineData("\"name\":\"x\",\"name\":1", "thing/t1 field name: must be a string, not a number 1")]
        [InlineData("\"extra\":{\"level\":\"a\",\"level\":2}", "thing/t1 field extra.level: must be an integer, not a string \"a\"")]
        [InlineData("\"extra\":{\"level\":null,\"level\":2}", "thing/t1 field extra.level: is required but null")]
        public void Every_member_named_twice_is_checked(string members, string expected)
        {
            Assert.Equal(expected, Thing(members));
        }

        [Fact]
        public void The_last_id_of_an_object_that_names_it_twice_is_its_id()
        {
            Assert.Equal("", Errors("thing", "t1", "{\"id\":\"t2\",\"id\":\"t1\"}"));
            Assert.Equal("thing/t1 field id: is 't2' but the object is stored under id 't1'", Errors("thing", "t1", "{\"id\":\"t1\",\"id\":\"t2\"}"));
        }

        [Fact]
        public void References_into_a_list_named_twice_resolve_against_the_last()
        {
            var net = Entry("net", "n1", Encoding.UTF8.GetBytes("{\"id\":\"n1\",\"subnets\":[{\"id\":\"s9\"}],\"subnets\":[{\"id\":\"s8\",\"id\":\"s1\"}]}"));
            Assert.Equal("", Errors("thing", "t1", Encoding.UTF8.GetBytes("{\"id\":\"t1\",\"subnet\":\"s1\"}"), net));
            Assert.Equal("thing/t1 field subnet: refers to subnet 's9', which no net.subnets holds", Errors("thing", "t1", Encoding.UTF8.GetBytes("{\"id\":\"t1\",\"subnet\":\"s9\"}"), net));
        }

        [Theory]
        [InlineData("thing", "[1]", "thing/t1: must be a JSON object, not a list")]
        [InlineData("thing", "\"x\"", "thing/t1: must be a JSON object, not a string")]
        [InlineData("thing", " {\"id\" : \"t1\"}\n", "")]
        [InlineData("thing", "{\"id\":null}", "thing/t1 field id: is required but null")]
        [InlineData("thing", "{}", "thing/t1 field id: is required but missing")]
        [InlineData("counter", "5", "")]
        [InlineData("counter", "\"5\"", "counter/t1: must be an integer, not a string \"5\"")]
        [InlineData("counter", "5.0", "counter/t1: must be an integer, not a number 5.0")]
        [InlineData("zzz", "{}", "zzz/t1: table 'zzz' is not part of release test")]
        public void Whole_values_are_checked_against_their_table(string table, string value, string expected)
        {
            Assert.Equal(expected, Errors(table, "t1", value));
        }

        [Fact]
        public void Sixty_four_levels_of_nesting_are_read_and_sixty_five_are_not_json()
        {
            string Nested(int arrays) => "{\"id\":\"t1\",\"name\":" + new string('[', arrays) + new string(']', arrays) + "}";
            Assert.Equal("thing/t1 field name: must be a string, not a list " + new string('[', 40) + "…", Errors("thing", "t1", Nested(63)));
            var error = Assert.Single(SchemaValidator.Validate(Schema, new[] { Entry("thing", "t1", Encoding.UTF8.GetBytes(Nested(64))) }, _ => false));
            Assert.Null(error.Field);
            Assert.StartsWith("not valid JSON: ", error.Reason);
        }

        [Theory]
        [InlineData("{\"id\":\"t1\"")]
        [InlineData("{\"id\":\"t1\"} x")]
        [InlineData("{\"id\":\"t1\",}")]
        [InlineData("{\"id\":'t1'}")]
        [InlineData("{\"id\":\"t1\",\"count\":01}")]
        [InlineData("{\"id\":\"t1\",\"name\":\"a\tb\"}")]
        [InlineData("{\"id\":\"t1\",\"name\":\"\\x\"}")]
        [InlineData("")]
        public void Text_that_is_not_json_is_one_error_for_the_object(string value)
        {
            var error = Assert.Single(SchemaValidator.Validate(Schema, new[] { Entry("thing", "t1", Encoding.UTF8.GetBytes(value)) }, _ => false));
            Assert.Equal(("thing", "t1", (string)null), (error.Table, error.Id, error.Field));
            Assert.StartsWith("not valid JSON: ", error.Reason);
        }

        // As a store's read refuses them: a value the validator passed is one a backup gives back.
        [Fact]
        public void Bytes_that_are_not_utf8_are_not_json()
        {
            var value = Encoding.UTF8.GetBytes("{\"id\":\"t1\",\"name\":\"ab\"}");
            value[19] = 0xFF;
            var error = Assert.Single(SchemaValidator.Validate(Schema, new[] { Entry("thing", "t1", value) }, _ => false));
            Assert.Null(error.Field);
            Assert.StartsWith("not valid JSON: ", error.Reason);
        }

        // An object checked for the values of some fields: the values of the others are not judged,
        // but every member must still be a field, the required ones must be there, and the text JSON.
        [Theory]
        [InlineData("\"count\": \"many\", \"name\": 5", "")]
        [InlineData("\"count\": \"many\", \"tags\": [1]", "thing/t1 field tags[0]: must be a string, not a number 1")]
        [InlineData("\"tags\": [ \"a\", 1.50 ]", "thing/t1 field tags[1]: must be a string, not a number 1.50")]
        [InlineData("\"count\": 1, \"colour\": \"red\"", "thing/t1 field colour: is not a field of thing in release test")]
        [InlineData("\"extra\": {\"level\": \"high\"}, \"tags\": []", "")]
        [InlineData("\"name\": \"caf\u00e9\", \"tags\": [2]", "thing/t1 field tags[0]: must be a string, not a number 2")]
        public void An_object_checked_for_some_values_has_its_names_and_text_checked_too(string members, string expected)
        {
            var value = Encoding.UTF8.GetBytes("{\"id\": \"t1\", " + members + "}");
            var only = CheckScope.ValuesOf(new[] { "tags" });
            var errors = SchemaValidator.Validate(Schema, new[] { (Net, CheckScope.Whole), (Entry("thing", "t1", value), only) }, _ => false);
            Assert.Equal(expected, string.Join(" | ", errors.Select(e => e.ToString())));
        }

        // A manifest may name the table "" (its reader takes it): a reference there resolves to nothing,
        // in a run's validation (against the run's snapshot) as in a plain one.
        const string EmptyTableManifest = @"{
  ""release"": ""REL"",
  ""tables"": {
    """": { ""fields"": { ""id"": { ""type"": ""string"", ""required"": true } } },
    ""thing"": { ""fields"": { ""id"": { ""type"": ""string"", ""required"": true }, ""owner"": { ""type"": ""reference"", ""table"": """" } } }
  }
}";

        [Fact]
        public void A_reference_to_the_table_named_empty_is_a_validation_error_in_a_run_as_in_a_plain_validation()
        {
            SchemaManifest Release(string r) => SchemaManifest.Load(new MemoryStream(Encoding.UTF8.GetBytes(EmptyTableManifest.Replace("REL", r))), r + ".json");
            var schemas = new Dictionary<string, SchemaManifest> { ["v1"] = Release("v1"), ["v2"] = Release("v2") };
            var plain = SchemaValidator.Validate(schemas["v2"], new[] { Entry("thing", "b", Encoding.UTF8.GetBytes("{\"id\": \"b\", \"owner\": \"y\"}")) }, _ => false);
            Assert.Equal("thing/b field owner: refers to /y, which does not exist", Assert.Single(plain).ToString());

            string path = Path.Combine(Directory.CreateTempSubdirectory("df-empty-table-").FullName, "nb.jsonl");
            using (var store = new FileNbStore(path, create: true))
                store.Write(new[] { Entry("thing", "a", Encoding.UTF8.GetBytes("{\"id\": \"a\"}")) });
            var make = new Migrations.Migration("mk", "v2", "test", DateTimeOffset.Parse("2020-01-01T00:00:00Z"), null, null, "test:mk",
                nb => nb.Create("thing", new Json.NbObject { ["id"] = "b", ["owner"] = "y" }));
            using (var store = new FileNbStore(path))
            {
                var migrator = new Migrations.Migrator(store, new Migrations.MigrationCatalog(new[] { make }, new[] { "v1", "v2" }), null, r => schemas.TryGetValue(r, out var s) ? s : null);
                migrator.Baseline("v1");
                var plan = migrator.Plan();
                var e = Assert.Throws<SchemaValidationException>(() => migrator.Run(plan.Pending, migrator.PlanSchema(plan, "v2", plan.Pending)));
                Assert.Equal("thing/b field owner: refers to /y, which does not exist", Assert.Single(e.Errors).ToString());
            }
        }

        // The objects are checked in parts, on every core: the errors still come in the order of the
        // objects, and a part's references resolve against the objects of every part.
        [Fact]
        public void The_errors_of_many_objects_come_in_their_order_and_references_resolve_across_them()
        {
            var entries = new List<NbEntry>();
            var expected = new List<string>();
            for (int i = 0; i < 5 * SchemaValidator.Part; i++)   // five parts, and the things referred to in a sixth
            {
                string id = $"t{i:D5}", count = i % 1234 == 7 ? "\"x\"" : "1", owner = i % 3001 == 5 ? "gone" : "n" + i % 3;
                entries.Add(Entry("thing", id, Encoding.UTF8.GetBytes($"{{\"id\": \"{id}\", \"count\": {count}, \"owner\": \"{owner}\", \"subnet\": \"s{i % 3}\"}}")));
                if (count != "1") expected.Add($"thing/{id} field count: must be an integer, not a string \"x\"");
                if (owner == "gone") expected.Add($"thing/{id} field owner: refers to net/gone, which does not exist");
            }
            // What the things refer to comes last, in no part of theirs.
            for (int n = 0; n < 3; n++)
                entries.Add(Entry("net", "n" + n, Encoding.UTF8.GetBytes($"{{\"id\": \"n{n}\", \"subnets\": [{{\"id\": \"s{n}\"}}]}}")));
            Assert.Equal(expected, SchemaValidator.Validate(Schema, entries, _ => false).Select(e => e.ToString()));
        }

        [Fact]
        public void An_object_checked_for_some_values_still_needs_its_required_fields_and_one_checked_for_nothing_is_not_read()
        {
            var missingId = Entry("thing", "t1", Encoding.UTF8.GetBytes("{\"name\": \"x\"}"));
            var notJson = Entry("thing", "t2", Encoding.UTF8.GetBytes("{\"id\": "));
            var errors = SchemaValidator.Validate(Schema, new[] { (Net, CheckScope.Whole), (missingId, CheckScope.ValuesOf(new[] { "tags" })), (notJson, CheckScope.Nothing) }, _ => false);
            Assert.Equal("thing/t1 field id: is required but missing", string.Join(" | ", errors.Select(e => e.ToString())));
            // Text that is not JSON in a value not read is the same error as when the object is checked whole.
            var badList = Entry("thing", "t3", Encoding.UTF8.GetBytes("{\"id\": \"t3\", \"count\": [1, 2,]}"));
            string Check(CheckScope scope) => string.Join(" | ", SchemaValidator.Validate(Schema, new[] { (Net, CheckScope.Whole), (badList, scope) }, _ => false));
            Assert.StartsWith("thing/t3: not valid JSON: ", Check(CheckScope.ValuesOf(new[] { "tags" })));
            Assert.Equal(Check(CheckScope.Whole), Check(CheckScope.ValuesOf(new[] { "tags" })));
        }
    }
}
