using System;
using System.Reflection;
using System.Runtime.CompilerServices;
using DragonflowUpgrade.Engine.Json;

namespace DragonflowUpgrade.Engine.Store
{
    /// <summary>
    /// Room for many small values in a few large buffers, for values a run holds from its read to
    /// its end. One array per value would be copied up through the collector's generations, and
    /// that cost a run about a third of its time in collector pauses.
    /// </summary>
    sealed class ByteArena
    {
        const int ChunkSize = 1 << 20;
        const int OwnArrayFrom = ChunkSize / 8;  // a larger value gets an array of its own: a chunk never wastes more than this

        // On .NET 5 and later, GC.AllocateUninitializedArray(n, pinned: true): the pinned object
        // heap is never compacted, so a chunk is never copied, and it need not be zeroed, as
        // every byte handed out is written first. netstandard2.0 cannot name it.
        static readonly Func<int, bool, byte[]> AllocatePinned = typeof(GC)
            .GetMethod("AllocateUninitializedArray", BindingFlags.Public | BindingFlags.Static)?
            .MakeGenericMethod(typeof(byte)).CreateDelegate(typeof(Func<int, bool, byte[]>)) as Func<int, bool, byte[]>;

        byte[] _chunk;
        int _used;

        /// <summary>A place for <paramref name="length"/> bytes, to fill before the next call.</summary>
        [MethodImpl(Hot.Optimize)]
        public Memory<byte> Take(int length)
        {
            if (length >= OwnArrayFrom) return Allocate(length);
            if (_chunk == null || ChunkSize - _used < length)
            {
                _chunk = Allocate(ChunkSize);
                _used = 0;
            }
            var room = new Memory<byte>(_chunk, _used, length);
            _used += length;
            return room;
        }

        public ReadOnlyMemory<byte> Copy(ReadOnlySpan<byte> bytes)
        {
            var room = Take(bytes.Length);
            bytes.CopyTo(room.Span);
            return room;
        }

        static byte[] Allocate(int length) => AllocatePinned != null ? AllocatePinned(length, true) : new byte[length];
    }
}
