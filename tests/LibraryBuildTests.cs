using System.Reflection;
using System.Runtime.Versioning;
using DragonflowUpgrade.Dragonflow;
using DragonflowUpgrade.Engine.Migrations;
using Xunit;

namespace DragonflowUpgrade.Tests
{
    /// <summary>
    /// One file linked into the Dragonflow and Remote test projects and their NetStandard twins, which run the
    /// same tests against the net8.0 and the netstandard2.0 builds: the libraries a project tests are the builds it names.
    /// </summary>
    public class LibraryBuildTests
    {
#if REMOTE_TESTS
        static readonly Assembly[] UnderTest = { typeof(Remote.Upgrade.UpgradeRun).Assembly, typeof(DragonflowReleases).Assembly, typeof(Migrator).Assembly };
#else
        static readonly Assembly[] UnderTest = { typeof(DragonflowReleases).Assembly, typeof(Migrator).Assembly };
#endif
#if REMOTE_NETSTANDARD || DRAGONFLOW_NETSTANDARD
        const string Expected = ".NETStandard,Version=v2.0";
#else
        const string Expected = ".NETCoreApp,Version=v8.0";
#endif

        [Fact]
        public void The_libraries_under_test_are_the_builds_this_test_project_names()
        {
            foreach (var assembly in UnderTest)
                Assert.Equal(Expected, assembly.GetCustomAttribute<TargetFrameworkAttribute>().FrameworkName);
        }
    }
}
