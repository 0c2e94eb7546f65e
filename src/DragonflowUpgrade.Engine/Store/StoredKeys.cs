using System.Collections.Generic;

namespace DragonflowUpgrade.Engine.Store
{
    /// <summary>Whether objects can be stored in a database's key layout and read back as the same (table, topic, id).</summary>
    public static class StoredKeys
    {
        /// <summary>
        /// Refuses (<see cref="NbKeyException"/>, <c>NbKeyNotStorable</c>) when any of <paramref name="keys"/>,
        /// the objects a database is to hold, would not read back as itself from <paramref name="store"/>'s
        /// layout, or would share a stored key with another. Called before anything is written.
        /// </summary>
        public static void Require(INbStore store, IEnumerable<NbKey> keys) => Require(store, keys, store.Parts.KeyLayout);

        /// <summary><see cref="Require(INbStore, IEnumerable{NbKey})"/> in <paramref name="layout"/>, the layout the keys are to be written in.</summary>
        public static void Require(INbStore store, IEnumerable<NbKey> keys, NbKeyLayout? layout)
        {
            if (layout == null) return;   // the store keeps table, topic and id as they are
            // A key that reads back from its stored key as itself is the only one that stored key reads
            // back as, so two such keys share a stored key only where it leaves out part of them: the
            // topic, in a layout whose key does not hold it. Those are found by (table, id), without
            // making each key's stored text; only a key refused has its stored key written out.
            var seen = layout.KeyHoldsTopic ? null : new Dictionary<NbKey, NbKey>();
            var named = new List<string>();
            int count = 0;
            foreach (var key in keys)
            {
                string? why = layout.KeyProblem(key);
                if (why == null && seen != null)
                {
                    var stored = key.Topic == null ? key : new NbKey(key.Table, null, key.Id);
                    if (!seen.TryGetValue(stored, out var other)) seen.Add(stored, key);
                    else if (!other.Equals(key)) why = $"has the stored key '{layout.FormatKey(key)}' of {Describe(other)} too";
                }
                if (why != null && count++ < 5) named.Add($"{Describe(key)} {why}");
            }
            if (count > 0) throw NbKeyException.NotStorable(store.Location, named, count);
        }

        /// <summary>
        /// Makes <paramref name="store"/> read and write the key layout of <paramref name="release"/>,
        /// the release the database is at; when none is recorded, or the store does not know the
        /// release's layout, the layout its keys are in (<see cref="FoundLayout"/>). Returns the layout in use.
        /// </summary>
        public static NbKeyLayout? FollowRelease(INbStore store, string? release)
        {
            var layout = (release == null ? null : store.Parts.KeyLayoutAt(release)) ?? FoundLayout(store);
            if (layout != null) store.Parts.UseKeyLayout(layout);
            return store.Parts.KeyLayout;
        }

        /// <summary>
        /// The one layout the database's keys are in; null when they do not tell (no object, or the
        /// store has one layout). Refuses (<see cref="NbKeyException"/>, <c>NbKeyLayoutMixed</c>) keys of several layouts.
        /// </summary>
        public static NbKeyLayout? FoundLayout(INbStore store)
        {
            var found = store.Parts.FindKeyLayouts();
            if (found.Count > 1) throw NbKeyException.LayoutsMixed(store.Location, found);
            foreach (var layout in found.Keys) return layout;
            return null;
        }

        /// <summary>
        /// Makes <paramref name="store"/> write the key layout of <paramref name="release"/>, refusing
        /// (<see cref="NbKeyException"/>, <c>NbKeyLayoutNotRelease</c>) when the database's keys are in
        /// another: declaring a database to be at a release its keys are not stored for.
        /// </summary>
        public static void RequireLayoutOf(INbStore store, string release)
        {
            var want = store.Parts.KeyLayoutAt(release);
            if (want == null) return;
            var found = store.Parts.FindKeyLayouts();
            if (found.Count > 1) throw NbKeyException.LayoutsMixed(store.Location, found);
            foreach (var other in found)
                if (other.Key != want) throw NbKeyException.LayoutNotRelease(store.Location, release, want, other.Key, other.Value);
            store.Parts.UseKeyLayout(want);
        }

        static string Describe(NbKey key) => $"table '{key.Table}' topic {(key.Topic == null ? "none" : "'" + key.Topic + "'")} id '{key.Id}'";
    }
}
