using System.Runtime.CompilerServices;

namespace DragonflowUpgrade.Engine.Json
{
    /// <summary>
    /// MethodImplOptions.AggressiveOptimization (on netstandard2.0, which does not name it, its
    /// value; .NET Framework ignores it). The few
    /// methods that run once per object in a run wear it: a run is one pass over the data, so
    /// tiered compilation would spend most of it in unoptimized code before promoting them.
    /// </summary>
    static class Hot
    {
#if NETCOREAPP3_0_OR_GREATER
        public const MethodImplOptions Optimize = MethodImplOptions.AggressiveOptimization;
#else
        public const MethodImplOptions Optimize = (MethodImplOptions)512;
#endif
    }
}
