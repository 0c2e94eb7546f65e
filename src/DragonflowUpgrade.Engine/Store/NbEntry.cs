using System;

namespace DragonflowUpgrade.Engine.Store
{
    /// <summary>
    /// An NB object as stored: its key and its value as UTF-8 JSON text, kept as the bytes the
    /// store holds so that untouched objects are never re-serialized. A value read in bulk may be
    /// a slice of a buffer it shares with other values. In a write, a delete has no value.
    /// </summary>
    public sealed class NbEntry
    {
        public NbEntry(NbKey key, ReadOnlyMemory<byte> value)
        {
            Key = key;
            Value = value;
        }

        NbEntry(NbKey key)
        {
            Key = key;
            IsDelete = true;
        }

        public NbKey Key { get; }
        public ReadOnlyMemory<byte> Value { get; }
        public bool IsDelete { get; }

        public static NbEntry Delete(NbKey key) => new NbEntry(key);
    }
}
