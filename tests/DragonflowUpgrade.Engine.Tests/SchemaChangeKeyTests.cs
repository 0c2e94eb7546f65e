using System;
using System.IO;
using System.Linq;
using System.Text;
using DragonflowUpgrade.Engine.Migrations;
using DragonflowUpgrade.Engine.Schema;
using Xunit;

namespace DragonflowUpgrade.Engine.Tests
{
    public class SchemaChangeKeyTests
    {
        static SchemaManifest Manifest(string release, string lportFields) =>
            SchemaManifest.Load(new MemoryStream(Encoding.UTF8.GetBytes(
                $"{{\"release\":\"{release}\",\"tables\":{{\"lport\":{{\"fields\":{{\"id\":{{\"type\":\"string\",\"required\":true}}{lportFields}}}}}}}}}")), release);

        static Migration Handling(params string[] handles) =>
            new Migration("m", "b", "", DateTimeOffset.UnixEpoch, handles, null, "m.ps1", nb => { });

        [Theory]
        [InlineData("lswitch.subnets:FieldRemoved", "lswitch", "subnets", SchemaChangeKind.FieldRemoved)]
        [InlineData("lsubnet:TableAdded", "lsubnet", null, SchemaChangeKind.TableAdded)]
        [InlineData("lport.binding.type:typechanged", "lport", "binding.type", SchemaChangeKind.TypeChanged)]
        public void A_handle_as_authors_write_it_reads_as_table_field_and_kind(string text, string table, string field, SchemaChangeKind kind)
        {
            var key = SchemaChangeKey.TryParse(text, out string problem);
            Assert.Null(problem);
            Assert.Equal((table, field, kind), (key.Table, key.Field, key.Kind));
        }

        [Theory]
        [InlineData("lswitch.subnets", "is not a schema change")]
        [InlineData("lswitch.subnets:FieldGone", "'FieldGone' is none of TableAdded, TableRemoved, FieldAdded, FieldRemoved")]
        [InlineData("lswitch.subnets:3", "'3' is none of")]
        [InlineData("lswitch.subnets:FieldAdded,FieldRemoved", "is none of")]
        [InlineData("lswitch. subnets:FieldRemoved", "is not a schema change")]
        [InlineData(".subnets:FieldRemoved", "is not a schema change")]
        [InlineData("lswitch.:FieldRemoved", "is not a schema change")]
        [InlineData("lswitch..subnets:FieldRemoved", "is not a schema change")]
        [InlineData("a:b:FieldRemoved", "is not a schema change")]
        [InlineData("", "is not a schema change")]
        public void A_handle_that_names_no_schema_change_is_refused_naming_the_migration_and_its_file(string text, string why)
        {
            var e = Assert.Throws<MigrationDefinitionException>(() => Handling("lport.name:FieldRemoved", text));
            Assert.Equal("m.ps1", e.MigrationSource);
            Assert.Contains($"migration 'm' has '{text}' in Handles, which", e.Message);
            Assert.Contains(why, e.Message);
        }

        [Fact]
        public void A_migration_handles_the_change_its_handle_names_whatever_the_case()
        {
            var changes = SchemaDiff.Compare(Manifest("a", ",\"name\":{\"type\":\"string\"},\"mtu\":{\"type\":\"int\"}"), Manifest("b", ""));
            Assert.Equal(new[] { "lport.name:FieldRemoved", "lport.mtu:FieldRemoved" }, changes.Select(c => c.Key));
            var unhandled = SchemaUpgrade.FindUnhandled(changes, Handling("LPort.Name:fieldremoved").Handles);
            Assert.Equal(new SchemaChangeKey("lport", "mtu", SchemaChangeKind.FieldRemoved), Assert.Single(unhandled).Id);
        }

        [Fact]
        public void A_handle_of_another_kind_or_field_handles_nothing()
        {
            var changes = SchemaDiff.Compare(Manifest("a", ",\"name\":{\"type\":\"string\"}"), Manifest("b", ",\"name\":{\"type\":\"int\"}"));
            var unhandled = SchemaUpgrade.FindUnhandled(changes, Handling("lport.name:FieldRemoved", "lport.nam:TypeChanged", "lport:TypeChanged").Handles);
            Assert.Equal("lport.name:TypeChanged", Assert.Single(unhandled).Key);
        }
    }
}
