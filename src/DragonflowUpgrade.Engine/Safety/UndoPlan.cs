using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.Json;
using DragonflowUpgrade.Engine.Migrations;
using DragonflowUpgrade.Engine.Store;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace DragonflowUpgrade.Engine.Safety
{
    /// <summary>What Undo-DfMigration would restore, checked; <see cref="CommitJournal.Undo"/> carries it out.</summary>
    public sealed class UndoPlan
    {
        internal UndoPlan(CommitRecord run, bool interrupted, RestorePlan restore, CommitRecord? marker, CommitRecord? lastRun)
        {
            Run = run;
            Interrupted = interrupted;
            Restore = restore;
            Marker = marker;
            LastRun = lastRun;
        }

        public CommitRecord Run { get; }
        /// <summary>The run's commit did not finish (otherwise it is a finished run being taken back).</summary>
        public bool Interrupted { get; }
        public RestorePlan Restore { get; }
        internal CommitRecord? Marker { get; }
        internal CommitRecord? LastRun { get; }
    }
}
