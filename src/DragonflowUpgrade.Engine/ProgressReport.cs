using System;

namespace DragonflowUpgrade.Engine
{
    /// <summary>Where a long step is (reading, migrating, writing, working through nodes), for progress bars.</summary>
    public sealed class ProgressReport
    {
        public ProgressReport(string activity, string status, int percent)
        {
            Activity = activity;
            Status = status;
            Percent = percent;
        }

        public string Activity { get; }
        public string Status { get; }
        /// <summary>0..100, or -1 when the total is not known.</summary>
        public int Percent { get; }
    }

    /// <summary>Calls its action with each report at once, on the thread that reports (System.Progress would post it elsewhere).</summary>
    internal sealed class ReportTo<T> : IProgress<T>
    {
        readonly Action<T> _report;
        public ReportTo(Action<T> report) { _report = report; }
        public void Report(T value) => _report(value);
    }
}
