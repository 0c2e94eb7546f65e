using System.Reflection;
using System.Runtime.Versioning;
using DragonflowUpgrade.Engine.Migrations;
using Xunit;

namespace DragonflowUpgrade.Dragonflow.Tests
{
    /// <summary>These tests run twice: against the net8.0 builds of the Dragonflow library and the engine, and against their netstandard2.0 builds.</summary>
    public class DragonflowBuildTests
    {
        [Fact]
        public void The_libraries_under_test_are_the_builds_this_test_project_names()
        {
#if DRAGONFLOW_NETSTANDARD
            const string expected = ".NETStandard,Version=v2.0";
#else
            const string expected = ".NETCoreApp,Version=v8.0";
#endif
            foreach (var assembly in new[] { typeof(DragonflowReleases).Assembly, typeof(Migrator).Assembly })
                Assert.Equal(expected, assembly.GetCustomAttribute<TargetFrameworkAttribute>().FrameworkName);
        }
    }
}
