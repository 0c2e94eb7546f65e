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
}
