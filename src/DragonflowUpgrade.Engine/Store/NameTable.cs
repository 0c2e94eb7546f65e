using System;
using System.Collections.Generic;
using System.Runtime.CompilerServices;
using System.Text;
using DragonflowUpgrade.Engine.Json;

namespace DragonflowUpgrade.Engine.Store
{
    /// <summary>
    /// One copy of each table and topic name a read meets: they repeat across thousands of keys.
    /// Unlike string.Intern, it takes no global lock and is gone with the read.
    /// </summary>
    public sealed class NameTable
    {
        readonly Dictionary<string, string> _names = new Dictionary<string, string>(StringComparer.Ordinal);
        // The name last seen with each hash of its bytes, so that a name read as bytes is decoded once.
        readonly Dictionary<int, string> _byHash = new Dictionary<int, string>();

        public string Share(string name)
        {
            if (_names.TryGetValue(name, out var kept)) return kept;
            _names.Add(name, name);
            return name;
        }

        /// <summary>The name whose UTF-8 text is <paramref name="utf8"/>.</summary>
        /// <exception cref="DecoderFallbackException">The bytes are not UTF-8.</exception>
        [MethodImpl(Hot.Optimize)]
        public string Share(ReadOnlySpan<byte> utf8)
        {
            int hash = -2128831035;  // FNV-1a
            foreach (byte b in utf8) hash = (hash ^ b) * 16777619;
            if (_byHash.TryGetValue(hash, out var name) && IsAscii(name, utf8)) return name;
            name = Share(NbJson.Utf8Text(utf8));
            _byHash[hash] = name;
            return name;
        }

        // Whether the bytes are the name's text, all ASCII (other names are decoded every time).
        [MethodImpl(Hot.Optimize)]
        static bool IsAscii(string name, ReadOnlySpan<byte> utf8)
        {
#if NET8_0_OR_GREATER
            return System.Text.Ascii.Equals(utf8, name);  // vectorized: false for any byte outside ASCII
#else
            if (name.Length != utf8.Length) return false;
            for (int i = 0; i < utf8.Length; i++)
                if (utf8[i] >= 0x80 || name[i] != utf8[i]) return false;
            return true;
#endif
        }
    }
}
