using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using DragonflowUpgrade.Engine.Migrations;
using DragonflowUpgrade.Engine.Schema;
using DragonflowUpgrade.Engine.Store;
using Xunit;

namespace DragonflowUpgrade.Engine.Tests.Hostile
{
    /// <summary>
    /// Objects a run leaves as it read them are validated only where the two releases' rules
    /// differ. An object that fitted its release but not the target must still stop the run, with
    /// the error naming the same object and field as a check of the whole object does.
    /// </summary>
    public class AsReadValidationHostileTests : IDisposable
    {
        readonly string _dir = Directory.CreateTempSubdirectory("df-asread-").FullName;
        public void Dispose() => Directory.Delete(_dir, true);

        // Two fields of one table hold the same embedded model (as bgp_speaker's host_routes and
        // prefix_routes both hold HostRoute); the target drops one of the model's enum values.
        static SchemaManifest Release(string release, string kinds) => SchemaManifest.Load(new MemoryStream(Encoding.UTF8.GetBytes(
            $"{{\"release\": \"{release}\", \"tables\": {{\"speaker\": {{\"fields\": {{\"id\": {{\"type\": \"string\", \"required\": true}}, " +
            "\"first\": {\"type\": \"embedded\", \"model\": \"route\"}, \"second\": {\"type\": \"embedded\", \"model\": \"route\"}}}}, " +
            $"\"models\": {{\"route\": {{\"fields\": {{\"kind\": {{\"type\": \"enum\", \"values\": [{kinds}]}}}}}}}}}}")), release);

        static readonly SchemaManifest V1 = Release("v1", "\"p\", \"q\""), V2 = Release("v2", "\"p\"");

        [Fact]
        public void A_change_to_a_model_two_fields_hold_is_a_change_of_each_field()
        {
            Assert.Equal(new[] { "speaker.first.kind:EnumValuesChanged", "speaker.second.kind:EnumValuesChanged" },
                SchemaDiff.Compare(V1, V2).Select(c => c.Key).OrderBy(k => k, StringComparer.Ordinal));
        }

        [Fact]
        public void An_object_left_as_read_whose_second_field_of_a_changed_model_does_not_fit_stops_the_run()
        {
            string path = Path.Combine(_dir, "nb.jsonl");
            var value = Encoding.UTF8.GetBytes("{\"id\": \"s1\", \"first\": {\"kind\": \"p\"}, \"second\": {\"kind\": \"q\"}}");
            using (var store = new FileNbStore(path, create: true))
                store.Write(new[] { new NbEntry(new NbKey("speaker", "t", "s1"), value) });
            var before = File.ReadAllBytes(path);
            // A migration that takes care of the dropped value where it looks for it, and of nothing else.
            var fix = new Migration("fix-kinds", "v2", "test", DateTimeOffset.Parse("2020-01-01T00:00:00Z"),
                new[] { "speaker.first.kind:EnumValuesChanged", "speaker.second.kind:EnumValuesChanged" }, null, "test:fix-kinds", nb =>
                {
                    foreach (var s in nb.GetAll("speaker"))
                        if (s["first"] is Json.NbObject first && first["kind"] as string == "q")
                        {
                            first["kind"] = "p";
                            nb.Update("speaker", s);
                        }
                });
            var schemas = new Dictionary<string, SchemaManifest> { ["v1"] = V1, ["v2"] = V2 };
            using (var store = new FileNbStore(path))
            {
                var migrator = new Migrator(store, new MigrationCatalog(new[] { fix }, new[] { "v1", "v2" }), null, r => schemas.TryGetValue(r, out var m) ? m : null);
                migrator.Baseline("v1");
                before = File.ReadAllBytes(path);
                var plan = migrator.Plan();
                var e = Assert.Throws<SchemaValidationException>(() => migrator.Run(plan.Pending, migrator.PlanSchema(plan, "v2", plan.Pending)));
                var error = Assert.Single(e.Errors);
                Assert.Equal(("speaker", "s1", "second.kind"), (error.Table, error.Id, error.Field));
                Assert.Contains("'q' is not one of p", error.Reason);
            }
            Assert.Equal(before, File.ReadAllBytes(path));
        }
    }
}
