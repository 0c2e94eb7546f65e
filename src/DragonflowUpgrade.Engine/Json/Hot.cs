using System.Runtime.CompilerServices;

namespace DragonflowUpgrade.Engine.Json
{
    /// <summary>
    /// MethodImplOptions.AggressiveOptimization, which netstandard2.0 does not name. The few
    /// methods that run once per object in a run wear it: a run is one pass over the data, so
    /// tiered compilation would spend most of it in unoptimized code before promoting them.
    /// </summary>
    static class Hot
    {
        public const MethodImplOptions Optimize = (MethodImplOptions)512;
    }
}
