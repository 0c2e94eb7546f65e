namespace DragonflowUpgrade.Engine.Store
{
    /// <summary>
    /// An NB object as stored: its key and its value as UTF-8 JSON text, kept as the bytes the
    /// store holds so that untouched objects are never re-serialized. In a write, a null value
    /// deletes the key.
    /// </summary>
    public sealed class NbEntry
    {
        public NbEntry(NbKey key, byte[] value)
        {
            Key = key;
            Value = value;
        }

        public NbKey Key { get; }
        public byte[] Value { get; }
        public bool IsDelete => Value == null;

        public static NbEntry Delete(NbKey key) => new NbEntry(key, null);
    }
}
