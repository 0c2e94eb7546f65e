using System;

namespace DragonflowUpgrade.Engine.Store
{
    /// <summary>Where an NB object lives: its table, its topic (tenant; null when none) and its id.</summary>
    public readonly struct NbKey : IEquatable<NbKey>
    {
        public NbKey(string table, string? topic, string id)
        {
            if (string.IsNullOrEmpty(table)) throw new ArgumentException("An NB key needs a table.", nameof(table));
            if (id == null) throw new ArgumentException("An NB key needs an id.", nameof(id));
            Table = table;
            Topic = string.IsNullOrEmpty(topic) ? null : topic;
            Id = id;
        }

        public string Table { get; }
        public string? Topic { get; }
        public string Id { get; }

        public bool Equals(NbKey other) =>
            string.Equals(Table, other.Table, StringComparison.Ordinal) &&
            string.Equals(Topic, other.Topic, StringComparison.Ordinal) &&
            string.Equals(Id, other.Id, StringComparison.Ordinal);

        public override bool Equals(object? obj) => obj is NbKey k && Equals(k);

        public override int GetHashCode()
        {
            unchecked
            {
                int h = StringComparer.Ordinal.GetHashCode(Table);
                h = h * 31 + (Topic == null ? 0 : StringComparer.Ordinal.GetHashCode(Topic));
                return h * 31 + StringComparer.Ordinal.GetHashCode(Id);
            }
        }

        public override string ToString() => Topic == null ? $"{Table}/{Id}" : $"{Table}/{Id} (topic {Topic})";
    }
}
