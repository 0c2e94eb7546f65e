using System;
using System.Collections.Generic;

namespace DragonflowUpgrade.Engine.Store
{
    /// <summary>
    /// What is particular to one kind of NB store, supplied by the store itself (as an EF Core
    /// provider supplies its migrations lock): the slot of its upgrade lock, its batch size, where
    /// a commit's journal lives, its key layout, and where its backups go by default. The lock, the
    /// commit journal, the backups and the run above the stores know no store type. The defaults
    /// are a database server's (Redis, etcd).
    /// </summary>
    public abstract class NbStoreParts
    {
        /// <summary>The slot holding the database's upgrade lock; <paramref name="key"/> is its key where the store keeps the lock in the database.</summary>
        public abstract ILockSlot LockSlot(NbKey key);

        /// <summary>
        /// How many of a commit's or a restore's <paramref name="changes"/> the store is handed in one
        /// conditional write (<see cref="INbStore.WriteIf"/>): many of a server's batches, which it keeps
        /// in flight (a write per batch waited for each round trip), and few enough that what a store
        /// keeps for one write stays small, as does what a Redis Cluster checks on every master before
        /// writing and then waits for its replicas to have.
        /// </summary>
        public virtual int WriteRound(int changes) => 16 * 1024;

        /// <summary>Whether a commit's journal is kept in the database as well as in its file beside the run's backup.</summary>
        public virtual bool KeepsJournal => true;

        /// <summary>How the store turns (table, topic, id) into its keys; null when it keeps the three as they are, so any of them reads back.</summary>
        public virtual NbKeyLayout? KeyLayout => null;

        /// <summary>
        /// The key layout of a database at <paramref name="release"/>; null when the store does not
        /// know it for that release (then the keys themselves tell). By default the one layout the store has.
        /// </summary>
        public virtual NbKeyLayout? KeyLayoutAt(string release) => KeyLayout;

        /// <summary>
        /// The layouts the database's keys are in (the module's own tables left out), each with one
        /// of its stored keys as an example; empty when it holds no object, or the store has one layout only.
        /// </summary>
        public virtual IReadOnlyDictionary<NbKeyLayout, string> FindKeyLayouts() => NoLayouts;

        /// <summary>Reads and writes keys in <paramref name="layout"/>, one of this store's, from now on.</summary>
        public virtual void UseKeyLayout(NbKeyLayout layout) { }

        static readonly IReadOnlyDictionary<NbKeyLayout, string> NoLayouts = new Dictionary<NbKeyLayout, string>();

        /// <summary>The folder a backup goes to when none is named: a <c>df-backups</c> folder in the user's home folder.</summary>
        public virtual string DefaultBackupFolder =>
            System.IO.Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), "df-backups");

        /// <summary>What the name of a backup made by default starts with (before its time); characters unfit for a file name are replaced.</summary>
        public abstract string BackupName { get; }
    }

    /// <summary>A store's keys: how (table, topic, id) is stored, and which of them would not read back as themselves.</summary>
    public abstract class NbKeyLayout
    {
        /// <summary>The layout's shape, e.g. <c>{table.topic}.id</c>.</summary>
        public abstract string Name { get; }

        public override string ToString() => Name;

        /// <summary>The stored key of (table, topic, id).</summary>
        public abstract string FormatKey(NbKey key);

        /// <summary>Whether the stored key holds the topic: when it does not, objects that differ only in their topic are one stored object.</summary>
        public abstract bool KeyHoldsTopic { get; }

        /// <summary>Why <paramref name="key"/> would not read back from <see cref="FormatKey"/>'s key as itself; null when it would.</summary>
        public abstract string? KeyProblem(NbKey key);

        /// <summary>
        /// Why a key stored as UTF-8 would not read back as itself: half of a UTF-16 surrogate pair in its
        /// table, its id or (where the key holds it) its topic comes back as U+FFFD, another key. Null when none has one.
        /// </summary>
        protected static string? NotUtf8(NbKey key, bool topicInKey)
        {
            if (HasHalfPair(key.Table)) return "has half of a UTF-16 surrogate pair in its table, which a key stored as UTF-8 cannot hold";
            if (topicInKey && HasHalfPair(key.Topic)) return "has half of a UTF-16 surrogate pair in its topic, which a key stored as UTF-8 cannot hold";
            if (HasHalfPair(key.Id)) return "has half of a UTF-16 surrogate pair in its id, which a key stored as UTF-8 cannot hold";
            return null;
        }

        static bool HasHalfPair(string? s)
        {
            if (s == null) return false;
            for (int i = 0; i < s.Length; i++)
            {
                if (char.IsHighSurrogate(s[i]) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1])) i++;
                else if (char.IsSurrogate(s[i])) return true;
            }
            return false;
        }
    }

    /// <summary>
    /// Where a database's upgrade lock lives: created only if absent, replaced and deleted only
    /// if it still holds what the caller read. Used from the lock's heartbeat thread too.
    /// </summary>
    public interface ILockSlot
    {
        /// <summary>Where the lock is, fit to print.</summary>
        string Where { get; }
        bool TryCreate(string value, TimeSpan ttl);
        /// <summary>The lock's text; null when there is none.</summary>
        string? Read();
        bool Replace(string expected, string value, TimeSpan ttl);
        bool Delete(string expected);
    }
}
