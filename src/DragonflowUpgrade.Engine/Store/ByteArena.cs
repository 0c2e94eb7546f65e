using System;
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

        byte[]? _chunk;
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

#if NET5_0_OR_GREATER
        // The pinned object heap is never compacted, so a chunk is never copied; and it need not
        // be zeroed, as every byte handed out is written first.
        static byte[] Allocate(int length) => GC.AllocateUninitializedArray<byte>(length, pinned: true);
#else
        // .NET Framework (Windows PowerShell 5.1) has no pinned object heap.
        static byte[] Allocate(int length) => new byte[length];
#endif
    }
}
