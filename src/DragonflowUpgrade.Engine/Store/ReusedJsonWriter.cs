using System;
using System.Buffers;
using System.Text.Json;

namespace DragonflowUpgrade.Engine.Store
{
    /// <summary>
    /// One JSON writer for many small documents written one after another (a file's lines, a
    /// journal's entries): a single <see cref="Utf8JsonWriter"/> over a single growing buffer,
    /// reset before each document, so a million of them allocate neither a writer nor a buffer each.
    /// Not for use by two threads at once: each caller keeps its own.
    /// </summary>
    internal sealed class ReusedJsonWriter : IBufferWriter<byte>
    {
        byte[] _bytes = new byte[4096];
        int _length;
        readonly Utf8JsonWriter _writer;

        public ReusedJsonWriter() { _writer = new Utf8JsonWriter(this); }

        /// <summary>Empties the buffer and gives the writer, ready for a new document.</summary>
        public Utf8JsonWriter Start()
        {
            _length = 0;
            _writer.Reset(this);
            return _writer;
        }

        /// <summary>The document written since <see cref="Start"/>, followed by <paramref name="end"/> when given; valid until the next <see cref="Start"/>.</summary>
        public ArraySegment<byte> Finish(byte? end = null)
        {
            _writer.Flush();
            if (end.HasValue)
            {
                Room(1);
                _bytes[_length++] = end.Value;
            }
            return new ArraySegment<byte>(_bytes, 0, _length);
        }

        void IBufferWriter<byte>.Advance(int count) => _length += count;
        Memory<byte> IBufferWriter<byte>.GetMemory(int sizeHint) { Room(sizeHint); return _bytes.AsMemory(_length); }
        Span<byte> IBufferWriter<byte>.GetSpan(int sizeHint) { Room(sizeHint); return _bytes.AsSpan(_length); }

        void Room(int count)
        {
            count = Math.Max(count, 1);
            if (_length + count > _bytes.Length) Array.Resize(ref _bytes, Math.Max(_bytes.Length * 2, _length + count));
        }
    }
}
