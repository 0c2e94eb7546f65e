using System.Text;
using DragonflowUpgrade.Engine.Json;
using DragonflowUpgrade.Engine.Safety;
using DragonflowUpgrade.Engine.Store;
using Xunit;

namespace DragonflowUpgrade.Engine.Tests
{
    public class HeartbeatRowTests
    {
        static HeartbeatRow Read(string json) =>
            ControlPlaneCheck.ReadRow(new NbEntry(new NbKey("service", null, "s1"), Encoding.UTF8.GetBytes(json)), "last_seen_up");

        [Fact]
        public void A_heartbeat_row_is_read_by_the_NB_reader_into_the_object_migrations_see()
        {
            var row = Read("{\"id\": \"s1\", \"binary\": \"df-local-controller\", \"ppid\": 4242, \"load\": 0.5, \"last_seen_up\": 1503312312.25}");
            Assert.IsType<NbObject>(row.Object);
            Assert.Equal(1503312312.25, row.Seconds);
            Assert.Null(row.Problem);
            Assert.Equal("df-local-controller", ControlPlaneCheck.Field(row.Object, "binary"));
            Assert.Equal("4242", ControlPlaneCheck.Field(row.Object, "ppid"));
            Assert.Equal("0.5", ControlPlaneCheck.Field(row.Object, "load"));
            Assert.Null(ControlPlaneCheck.Field(row.Object, "chassis"));
        }

        [Theory]
        [InlineData("[1, 2]", "is not a JSON object")]
        [InlineData("{\"id\": \"s1\",", "is not a JSON object")]
        [InlineData("{\"last_seen_up\": \"1503312312\"}", "has last_seen_up \"1503312312\", which is not a time in epoch seconds")]
        [InlineData("{\"last_seen_up\": 18446744073709551616}", "has last_seen_up 18446744073709551616, which is not a time in epoch seconds")]
        public void A_row_whose_time_cannot_be_read_says_why(string json, string problem)
        {
            var row = Read(json);
            Assert.Null(row.Seconds);
            Assert.Equal(problem, row.Problem);
        }
    }
}
