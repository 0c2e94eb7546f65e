using System;
using System.Security.Cryptography;

namespace DragonflowUpgrade.Engine.Store
{
    /// <summary>SHA-256 over a stream of byte chunks, printed as lower-case hex.</summary>
    public sealed class ContentHash
    {
        readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);

        public void Add(byte[] data, int count) => _hash.AppendData(data, 0, count);
        public void Add(byte[] data) => _hash.AppendData(data);

        public void Add(byte[] data, int offset, int count) => _hash.AppendData(data, offset, count);

        public string Finish() => ToHex(_hash.GetHashAndReset());

        public static string Of(byte[] data)
        {
            using (var sha = SHA256.Create()) return ToHex(sha.ComputeHash(data));
        }

        static string ToHex(byte[] bytes) => BitConverter.ToString(bytes).Replace("-", "").ToLowerInvariant();
    }
}
