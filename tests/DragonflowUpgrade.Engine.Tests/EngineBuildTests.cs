using System.Reflection;
using System.Runtime.Versioning;
using DragonflowUpgrade.Engine.Json;
using Xunit;

namespace DragonflowUpgrade.Engine.Tests
{
    /// <summary>These tests run twice: against the engine's net8.0 build and against its netstandard2.0 build.</summary>
    public class EngineBuildTests
    {
        [Fact]
        public void The_engine_under_test_is_the_build_this_test_project_names()
        {
            string framework = typeof(NbJson).Assembly.GetCustomAttribute<TargetFrameworkAttribute>().FrameworkName;
#if ENGINE_NETSTANDARD
            Assert.Equal(".NETStandard,Version=v2.0", framework);
#else
            Assert.Equal(".NETCoreApp,Version=v8.0", framework);
#endif
        }
    }
}
