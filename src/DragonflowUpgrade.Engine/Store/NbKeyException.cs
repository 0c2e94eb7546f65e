using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;
using DragonflowUpgrade.Engine.Errors;

namespace DragonflowUpgrade.Engine.Store
{
    /// <summary>
    /// A stored key of the shape of an NB key that the module cannot take as one without losing
    /// it: its bytes are not UTF-8 (<c>NbKeyNotUtf8</c>), or it holds another kind of value than
    /// Dragonflow's JSON text (<c>NbValueWrongType</c>); or the keys are of two layouts (<c>NbKeyLayoutMixed</c>) or not of the release the database is said to be at (<c>NbKeyLayoutNotRelease</c>). A read refuses such a key rather than skip
    /// it, so that tables, objects and backups count the same and nothing is dropped or written twice.
    /// </summary>
    public sealed class NbKeyException : DfException
    {
        NbKeyException(string errorId, string message, string key, string action)
            : base(errorId, DfErrorCategory.InvalidData, message, key, action)
        {
            Key = key;
        }

        /// <summary>The printed key, as <see cref="Display"/> writes it.</summary>
        public string Key { get; }

        public static NbKeyException NotUtf8(string location, ReadOnlySpan<byte> key) =>
            new NbKeyException("NbKeyNotUtf8",
                $"The key '{Display(key)}' in the NB database at {location} is not UTF-8 text, as every Dragonflow key is " +
                "(bytes that are not are shown as \\xHH); the module would write it back under another key. Nothing was written.",
                Display(key),
                "Rename or delete that key with the database's own client, then run again.");

        public static NbKeyException WrongType(string location, ReadOnlySpan<byte> key, string type) =>
            new NbKeyException("NbValueWrongType",
                $"The key '{Display(key)}' in the NB database at {location} holds a Redis {type}, not the JSON text of an NB object; " +
                "Dragonflow stores every object as a string. Nothing was written.",
                Display(key),
                "Rename or delete that key with redis-cli (it is not Dragonflow's), then run again.");

        public static NbKeyException NotStorable(string location, IReadOnlyList<string> first, int count) =>
            new NbKeyException("NbKeyNotStorable",
                $"{count} object(s) cannot be stored in the NB database at {location} and read back as themselves: " +
                $"{string.Join("; ", first)}{(count > first.Count ? $"; and {count - first.Count} more" : "")}. Nothing was written.",
                first[0],
                "Rename those objects' tables, topics or ids (in the backup, or in the migration that makes them), or use a database whose key layout holds them.");

        public static NbKeyException LayoutsMixed(string location, IReadOnlyDictionary<NbKeyLayout, string> examples) =>
            new NbKeyException("NbKeyLayoutMixed",
                $"The NB database at {location} holds keys of {examples.Count} layouts, and records no release that says which one is its own: " +
                string.Join(" and ", examples.Select(e => $"{e.Key.Name} (e.g. '{e.Value}')")) +
                ". Dragonflow reads one layout only, so it misses the objects stored in the other. Nothing was written.",
                examples.First().Value,
                "Stop what wrote the keys of the layout that is not the cloud's (a Dragonflow of another release), then move those keys into the other layout " +
                "with the database's own client, or restore a backup taken before (Restore-DfNbDatabase); run again once every key has one layout.");

        public static NbKeyException LayoutNotRelease(string location, string release, NbKeyLayout want, NbKeyLayout found, string example) =>
            new NbKeyException("NbKeyLayoutNotRelease",
                $"The NB database at {location} stores its keys as {found.Name} (e.g. '{example}'), not as {want.Name}, the layout of release {release}: " +
                $"it is not at {release}, or Dragonflow at {release} would not find its objects. Nothing was written.",
                example,
                $"Give the release the database's Dragonflow runs (its keys' layout says which); from there, Invoke-DfMigration -TargetRelease {release} moves the keys.");

        /// <summary>A key's bytes fit to print: printable ASCII as it is, '\' as '\\', any other byte as \xHH.</summary>
        public static string Display(ReadOnlySpan<byte> key)
        {
            var sb = new StringBuilder(key.Length + 8);
            foreach (byte b in key)
            {
                if (b == '\\') sb.Append("\\\\");
                else if (b >= 0x20 && b < 0x7f) sb.Append((char)b);
                else sb.Append("\\x").Append(b.ToString("X2"));
            }
            return sb.ToString();
        }
    }
}
