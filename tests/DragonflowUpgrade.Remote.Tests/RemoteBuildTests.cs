using System.Reflection;
using System.Runtime.Versioning;
using DragonflowUpgrade.Dragonflow;
using DragonflowUpgrade.Engine.Migrations;
using DragonflowUpgrade.Remote.Upgrade;
using Xunit;

namespace DragonflowUpgrade.Remote.Tests
{
    public class RemoteBuildTests
    {
        [Fact]
        public void The_libraries_under_test_are_the_builds_this_test_project_names()
        {
#if REMOTE_NETSTANDARD
            const string expected = ".NETStandard,Version=v2.0";
#else
            const string expected = ".NETCoreApp,Version=v8.0";
#endif
            foreach (var assembly in new[] { typeof(UpgradeRun).Assembly, typeof(DragonflowReleases).Assembly, typeof(Migrator).Assembly })
                Assert.Equal(expected, assembly.GetCustomAttribute<TargetFrameworkAttribute>().FrameworkName);
        }
    }
}
