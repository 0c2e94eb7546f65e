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
    /// <summary>What a finished commit wrote.</summary>
    public sealed class CommitReport
    {
        internal CommitReport(CommitRecord r)
        {
            RunId = r.RunId;
            Database = r.Database;
            Migrations = r.Migrations;
            Puts = r.Puts;
            Deletes = r.Deletes;
            BackupPath = r.BackupPath;
            JournalPath = r.JournalPath;
        }

        public string RunId { get; }
        /// <summary>Null when the run's record does not say.</summary>
        public string? Database { get; }
        public IReadOnlyList<string> Migrations { get; }
        public int Puts { get; }
        public int Deletes { get; }
        public string BackupPath { get; }
        public string JournalPath { get; }
    }
}
