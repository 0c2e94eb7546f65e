using System;
using System.Buffers.Text;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Runtime.CompilerServices;
using System.Text;
using System.Threading;
using DragonflowUpgrade.Engine.Json;

namespace DragonflowUpgrade.Engine.Store
{
    /// <summary>
    /// One Redis connection speaking RESP2 over a socket: commands are written into a buffer
    /// and sent together, replies read back in order straight from the receive buffer. The NB
    /// store's bulk reads and writes use it because a value read here is one array and nothing
    /// else; a general client's per-reply objects cost more than the I/O at 100,000 keys
    /// (bench/readers.bench.ps1: pipelined MGETs of 100,000 keys take StackExchange.Redis 2.3
    /// times as long, allocating 1.8 times as much).
    /// With TLS, the bytes go through an <see cref="SslStream"/> over the socket; without, straight
    /// through the socket. Not for use by two threads at once. After any failure the connection is closed: a
    /// half-read reply cannot be resynchronised.
    /// </summary>
    sealed class RespConnection : IDisposable
    {
        const long MaxBulk = 512L << 20;  // Redis's own limit on a value (proto-max-bulk-len)

        readonly Socket _socket;
        SslStream? _tls;   // null without TLS
        readonly byte[] _in = new byte[256 * 1024];
        int _inStart, _inEnd;
        byte[] _out = new byte[256 * 1024];
        int _outLength;
        bool _broken;

        static readonly TimeSpan DefaultReplyTimeout = TimeSpan.FromSeconds(30);
        readonly TimeSpan _replyTimeout;

        RespConnection(Socket socket, TimeSpan replyTimeout)
        {
            _socket = socket;
            _replyTimeout = replyTimeout;
        }

        /// <summary>
        /// Connects (over TLS when <paramref name="tls"/> is given), authenticates when a password is
        /// given and selects <paramref name="database"/>. A server certificate that does not verify
        /// throws an <see cref="AuthenticationException"/> saying why. A reply (or a send) that takes
        /// longer than <paramref name="replyTimeout"/> (default 30 s) throws a <see cref="TimeoutException"/>.
        /// </summary>
        public static RespConnection Open(string host, int port, string? user, string? password, int database, TimeSpan timeout, NbTls? tls = null, TimeSpan? replyTimeout = null)
        {
            var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            var c = new RespConnection(socket, replyTimeout ?? DefaultReplyTimeout);
            try
            {
                Connect(socket, host, port, timeout);
                socket.ReceiveTimeout = socket.SendTimeout = (int)c._replyTimeout.TotalMilliseconds;
            }
            catch
            {
                socket.Dispose();
                throw;
            }
            try
            {
                if (tls != null)
                {
                    c._tls = tls.Authenticate(socket, host, timeout);
                }
                if (password is { Length: > 0 })
                {
                    if (user is { Length: > 0 }) c.Command("AUTH", user, password); else c.Command("AUTH", password);
                    c.Flush();
                    c.ReadReply();
                }
                // SELECT even database 0: it proves a Redis server answers before anything is read.
                c.Command("SELECT", database.ToString(CultureInfo.InvariantCulture));
                c.Flush();
                c.ReadReply();
                return c;
            }
            catch (IOException e)
            {
                c.Dispose();
                throw new IOException("the server there does not answer as Redis does: " + e.Message, e);
            }
            catch
            {
                c.Dispose();
                throw;
            }
        }

        // A blocking connect, given up after the timeout. Not ConnectAsync: on Linux a socket once
        // used asynchronously does every later blocking call through the runtime's event thread
        // and a thread-pool thread that spins on the other processor; that cost the benchmark's
        // run about a tenth of its time.
        static void Connect(Socket socket, string host, int port, TimeSpan timeout)
        {
            const int Connecting = 0, Done = 1, TimedOut = 2;
            int state = Connecting;
            using (new Timer(_ => { if (Interlocked.CompareExchange(ref state, TimedOut, Connecting) == Connecting) socket.Dispose(); },
                null, timeout, Timeout.InfiniteTimeSpan))
            {
                try { socket.Connect(host, port); }
                catch (Exception) when (Volatile.Read(ref state) == TimedOut) { }
                if (Interlocked.CompareExchange(ref state, Done, Connecting) == TimedOut)
                    throw new TimeoutException($"no answer within {timeout.TotalSeconds:0} s.");
            }
        }

        // ---- Writing commands ----

        public void Command(params string[] args)
        {
            Array(args.Length);
            foreach (var a in args) Bulk(a);
        }

        /// <summary>Starts a command of <paramref name="count"/> arguments (its name included); the arguments follow as <see cref="Bulk(string)"/>s.</summary>
        public void Array(int count)
        {
            Room(16);
            _out[_outLength++] = (byte)'*';
            Number(count);
        }

        [MethodImpl(Hot.Optimize)]
        public void Bulk(string text) => Bulk(text, "");

        /// <summary>One bulk argument of two texts joined.</summary>
        [MethodImpl(Hot.Optimize)]
        public void Bulk(string head, string tail)
        {
            int length = Encoding.UTF8.GetByteCount(head) + Encoding.UTF8.GetByteCount(tail);
            Header(length);
            Room(length + 2);
            _outLength += Encoding.UTF8.GetBytes(head, 0, head.Length, _out, _outLength);
            _outLength += Encoding.UTF8.GetBytes(tail, 0, tail.Length, _out, _outLength);
            End();
        }

        [MethodImpl(Hot.Optimize)]
        public void Bulk(ReadOnlySpan<byte> bytes)
        {
            Header(bytes.Length);
            Raw(bytes);
            End();
        }

        /// <summary>Arguments <paramref name="from"/> to <paramref name="from"/> + <paramref name="count"/> of <paramref name="arguments"/>, as <see cref="Bulk(ReadOnlySpan{byte})"/>s.</summary>
        public void Bulks(RespArguments arguments, int from, int count) => Raw(arguments.Range(from, count));

        void Raw(ReadOnlySpan<byte> bytes)
        {
            while (bytes.Length > 0)
            {
                if (_outLength == _out.Length) Flush();
                int n = Math.Min(bytes.Length, _out.Length - _outLength);
                bytes.Slice(0, n).CopyTo(new Span<byte>(_out, _outLength, n));
                _outLength += n;
                bytes = bytes.Slice(n);
            }
        }

        void Header(int length)
        {
            Room(16);
            _out[_outLength++] = (byte)'$';
            Number(length);
        }

        void End()
        {
            Room(2);
            _out[_outLength++] = (byte)'\r';
            _out[_outLength++] = (byte)'\n';
        }

        // A count or length (never negative) and the line's end; the caller has made room.
        void Number(int n)
        {
            int start = _outLength;
            do
            {
                _out[_outLength++] = (byte)('0' + n % 10);
                n /= 10;
            } while (n > 0);
            System.Array.Reverse(_out, start, _outLength - start);
            _out[_outLength++] = (byte)'\r';
            _out[_outLength++] = (byte)'\n';
        }

        // A full buffer is sent as it is; a command may span several sends.
        void Room(int n)
        {
            if (_outLength + n <= _out.Length) return;
            Flush();
            if (n > _out.Length) System.Array.Resize(ref _out, n);
        }

        /// <summary>Sends what is buffered.</summary>
        public void Flush()
        {
            if (_outLength == 0) return;
            Send(_out, _outLength);
            _outLength = 0;
        }

        void Send(byte[] bytes, int length)
        {
            Usable();
            try
            {
                if (_tls != null) _tls.Write(bytes, 0, length);
                else for (int sent = 0; sent < length;) sent += _socket.Send(bytes, sent, length - sent, SocketFlags.None);
            }
            catch (Exception e) when (TimedOut(e)) { throw NoAnswer(); }
            catch (Exception e) when (e is SocketException || e is ObjectDisposedException || (_tls != null && e is IOException)) { throw Lost(e); }
        }

        // ---- Reading replies ----

        /// <summary>Any reply: a string (status), a long, a byte[] (bulk; null for nil) or an object[] (array; null for nil).</summary>
        /// <exception cref="RespErrorException">The reply is an error.</exception>
        public object? ReadReply()
        {
            byte kind = Byte();
            switch (kind)
            {
                case (byte)'+': return Line();
                case (byte)'-': throw Error(new RespErrorException(Line()));
                case (byte)':': return Integer();
                case (byte)'$': return BulkBody();
                case (byte)'*':
                    long n = Integer();
                    if (n < 0) return null;
                    var items = new object?[n];
                    for (long i = 0; i < n; i++) items[i] = ReadReply();
                    return items;
                default: throw Error(new IOException($"the server sent '{(char)kind}' where a reply should start."));
            }
        }

        /// <summary>
        /// An array reply of items that are never nil (integers, statuses, strings), read as <see cref="ReadReply"/>
        /// reads it; anything else, nil included, is an error.
        /// </summary>
        public object[] ReadArray() =>
            ReadReply() as object[] ?? throw Error(new IOException("the server sent something other than an array where one should be."));

        /// <summary>The length of an array reply (-1 for nil).</summary>
        public long ReadArrayLength()
        {
            byte kind = Byte();
            if (kind == '*') return Integer();
            throw Unexpected(kind, "an array");
        }

        /// <summary>A bulk reply's bytes, placed in <paramref name="arena"/>; false for nil.</summary>
        [MethodImpl(Hot.Optimize)]
        public bool TryReadBulk(ByteArena arena, out ReadOnlyMemory<byte> value)
        {
            byte kind = Byte();
            if (kind != '$') throw Unexpected(kind, "a bulk string");
            long length = Integer();
            value = default;
            if (length < 0) return false;
            var room = arena.Take(Checked(length));
            Payload(room.Span);
            value = room;
            return true;
        }

        /// <summary>A bulk reply (a key, a cursor) as its bytes, valid until the next read; nil is an error.</summary>
        [MethodImpl(Hot.Optimize)]
        public ReadOnlySpan<byte> ReadBulkBytes()
        {
            byte kind = Byte();
            if (kind != '$') throw Unexpected(kind, "a bulk string");
            long length = Integer();
            if (length < 0) throw Error(new IOException("the server sent nil where a key should be."));
            if (length + 2 > _in.Length) return Payload(length);
            while (_inEnd - _inStart < length + 2) Fill();
            var bytes = new ReadOnlySpan<byte>(_in, _inStart, (int)length);
            _inStart += (int)length;
            LineEnd();
            return bytes;
        }

        byte[]? BulkBody()
        {
            long length = Integer();
            return length < 0 ? null : Payload(length);
        }

        byte[] Payload(long length)
        {
            var bytes = new byte[Checked(length)];
            Payload(bytes);
            return bytes;
        }

        int Checked(long length)
        {
            if (length > MaxBulk) throw Error(new IOException($"the server announced a value of {length} bytes, more than Redis allows."));
            return (int)length;
        }

        // A bulk reply's body into exactly its room, then its line end.
        [MethodImpl(Hot.Optimize)]
        void Payload(Span<byte> into)
        {
            while (into.Length > 0)
            {
                if (_inStart == _inEnd) Fill();
                int n = Math.Min(into.Length, _inEnd - _inStart);
                new ReadOnlySpan<byte>(_in, _inStart, n).CopyTo(into);
                _inStart += n;
                into = into.Slice(n);
            }
            LineEnd();
        }

        [MethodImpl(Hot.Optimize)]
        long Integer()
        {
            long n = 0;
            bool negative = false;
            while (true)
            {
                byte c = Byte();
                if (c >= '0' && c <= '9') n = n * 10 + (c - '0');
                else if (c == '-' && !negative) negative = true;
                else if (c == '\r') break;
                else throw Error(new IOException("the server sent a malformed number in a reply."));
            }
            if (Byte() != '\n') throw Error(new IOException("the server sent a malformed line in a reply."));
            return negative ? -n : n;
        }

        string Line()
        {
            var text = new StringBuilder();
            for (byte c; (c = Byte()) != '\r';) text.Append((char)c);
            Byte();
            return text.ToString();
        }

        void LineEnd()
        {
            if (Byte() != '\r' || Byte() != '\n') throw Error(new IOException("the server sent a bulk reply longer than it said."));
        }

        [MethodImpl(Hot.Optimize)]
        byte Byte()
        {
            if (_inStart == _inEnd) Fill();
            return _in[_inStart++];
        }

        // Reads more, keeping what is unread at the front of the buffer.
        void Fill()
        {
            Usable();
            if (_inStart > 0)
            {
                Buffer.BlockCopy(_in, _inStart, _in, 0, _inEnd - _inStart);
                _inEnd -= _inStart;
                _inStart = 0;
            }
            int n;
            try { n = _tls != null ? _tls.Read(_in, _inEnd, _in.Length - _inEnd) : _socket.Receive(_in, _inEnd, _in.Length - _inEnd, SocketFlags.None); }
            catch (Exception e) when (TimedOut(e)) { throw NoAnswer(); }
            catch (Exception e) when (e is SocketException || e is ObjectDisposedException || (_tls != null && e is IOException)) { throw Lost(e); }
            if (n == 0) throw Error(new IOException("the server closed the connection."));
            _inEnd += n;
        }

        // A receive timeout: the socket's own, or the same wrapped by the TLS stream.
        static bool TimedOut(Exception e) =>
            (e as SocketException ?? e.InnerException as SocketException) is SocketException s &&
            (s.SocketErrorCode == SocketError.TimedOut || s.SocketErrorCode == SocketError.WouldBlock);

        Exception Unexpected(byte kind, string what)
        {
            if (kind == '-') return Error(new RespErrorException(Line()));
            return Error(new IOException($"the server sent '{(char)kind}' where {what} should be."));
        }

        Exception NoAnswer() => Error(new TimeoutException($"Redis did not answer within {_replyTimeout.TotalSeconds:0} s."));

        Exception Lost(Exception e) => Error(new IOException($"the connection to Redis was lost ({e.Message}).", e));

        Exception Error(Exception e)
        {
            Dispose();
            return e;
        }

        void Usable()
        {
            if (_broken) throw new IOException("the connection to Redis was lost in an earlier command.");
        }

        public void Dispose()
        {
            _broken = true;
            _tls?.Dispose();
            _socket.Dispose();
        }
    }

    /// <summary>Redis answered a command with an error; the message is Redis's.</summary>
    sealed class RespErrorException : Exception
    {
        public RespErrorException(string message) : base("Redis answered: " + message) { }
    }

    /// <summary>Bulk arguments formatted once, for <see cref="RespConnection.Bulks"/> to send in runs.</summary>
    sealed class RespArguments
    {
        byte[] _bytes = new byte[64 * 1024];
        int _length;
        readonly List<int> _ends = new List<int>();

        public void Clear()
        {
            _length = 0;
            _ends.Clear();
        }

        [MethodImpl(Hot.Optimize)]
        public void Add(ReadOnlySpan<byte> value)
        {
            int need = _length + value.Length + 16;
            if (need > _bytes.Length) Array.Resize(ref _bytes, Math.Max(need, 2 * _bytes.Length));
            _bytes[_length++] = (byte)'$';
            Utf8Formatter.TryFormat(value.Length, new Span<byte>(_bytes, _length, 11), out int digits);
            _length += digits;
            _bytes[_length++] = (byte)'\r';
            _bytes[_length++] = (byte)'\n';
            value.CopyTo(new Span<byte>(_bytes, _length, value.Length));
            _length += value.Length;
            _bytes[_length++] = (byte)'\r';
            _bytes[_length++] = (byte)'\n';
            _ends.Add(_length);
        }

        /// <summary>Puts the arguments in the order <paramref name="order"/> gives (the old position of each new one).</summary>
        public void Reorder(IReadOnlyList<int> order)
        {
            var bytes = new byte[_bytes.Length];
            var ends = new List<int>(_ends.Count);
            int length = 0;
            foreach (int i in order)
            {
                var range = Range(i, 1);
                range.CopyTo(new Span<byte>(bytes, length, range.Length));
                length += range.Length;
                ends.Add(length);
            }
            _bytes = bytes;
            _ends.Clear();
            _ends.AddRange(ends);
        }

        public ReadOnlySpan<byte> Range(int from, int count)
        {
            int start = from == 0 ? 0 : _ends[from - 1];
            return new ReadOnlySpan<byte>(_bytes, start, _ends[from + count - 1] - start);
        }
    }
}
