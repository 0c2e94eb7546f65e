using System;
using System.Collections;
using System.Collections.Generic;
using System.Runtime.CompilerServices;

namespace DragonflowUpgrade.Engine.Json
{
    /// <summary>
    /// An NB object as migrations see it: its members in stored order, each a plain .NET value.
    /// A member is a string, a bool, a long (integers; a BigInteger beyond long's range), a
    /// double (other numbers), null, an <see cref="NbObject"/> or a <c>List&lt;object&gt;</c> (arrays);
    /// members set by a migration may also be any other integer or floating type, or any
    /// enumerable of those values. Reading a missing member gives null, as Python's
    /// <c>dict.get</c> does.
    /// </summary>
    public sealed class NbObject : IEnumerable<KeyValuePair<string, object?>>
    {
        // Members in order; looked up by a scan, which for the few dozen members an NB object has
        // costs less than a hash table and keeps reading one cheap.
        string?[] _names;   // null past Count
        object?[] _values;
        int _count;
        // An object handed out unread holds its stored text, checked as JSON (NbJson.Check), and no
        // members: a migration that goes through a table mostly reads a field or two of each object
        // and changes few. A field holding a string, number, bool or null is read from the text;
        // anything else reads the whole object first, so that what it gives belongs to the object.
        // Reading changes the object, as writing does: like any NbObject, one thread at a time.
        readonly ReadOnlyMemory<byte> _text;
        bool _unread;

        /// <summary>An object without members.</summary>
        public NbObject() : this(8) { }

        internal NbObject(int capacity)
        {
            _names = new string[Math.Max(capacity, 1)];
            _values = new object[_names.Length];
        }

        // The members read by the parser, with room for a couple more (a migration often adds one).
        internal NbObject(string[] names, object?[] values, int start, int count) : this(count + 2)
        {
            Array.Copy(names, start, _names, 0, count);
            Array.Copy(values, start, _values, 0, count);
            _count = count;
        }

        /// <summary>An object read from <paramref name="text"/> only as its members are asked for; the text must have passed <see cref="NbJson.Check"/> as an object.</summary>
        internal NbObject(ReadOnlyMemory<byte> text)
        {
            _names = Array.Empty<string>();
            _values = Array.Empty<object>();
            _text = text;
            _unread = true;
        }

        /// <summary>How many members the object has.</summary>
        public int Count => Read()._count;

        /// <summary>A member's value; null when the object has no such member. Setting one that is missing adds it at the end.</summary>
        public object? this[string name]
        {
            get
            {
                TryGetValue(name, out var value);
                return value;
            }
            set
            {
                int i = Read().IndexOf(name);
                if (i >= 0) _values[i] = value;
                else Append(name, value);
            }
        }

        // Reads every member from the text, once.
        [MethodImpl(Hot.Optimize)]
        NbObject Read()
        {
            if (!_unread) return this;
            var read = (NbObject)NbJson.Parse(_text.Span)!;
            _names = read._names;
            _values = read._values;
            _count = read._count;
            _unread = false;
            return this;
        }

        /// <summary>Adds a member that must not exist yet.</summary>
        public void Add(string name, object? value)
        {
            if (Read().IndexOf(name) >= 0) throw new ArgumentException($"The object already has a member '{name}'.", nameof(name));
            Append(name, value);
        }

        /// <summary>Whether the object has a member of that name (whose value may be null).</summary>
        public bool ContainsKey(string name)
        {
            if (!_unread) return IndexOf(name) >= 0;
            if (name == null) throw new ArgumentNullException(nameof(name));
            return NbJson.ReadMember(_text.Span, name, out _) != NbJson.Member.Missing;
        }

        /// <summary>A member's value (which may be null); false when the object has no such member.</summary>
        [MethodImpl(Hot.Optimize)]
        public bool TryGetValue(string name, out object? value)
        {
            if (_unread)
            {
                if (name == null) throw new ArgumentNullException(nameof(name));
                switch (NbJson.ReadMember(_text.Span, name, out value))
                {
                    case NbJson.Member.Missing: return false;
                    case NbJson.Member.Read: return true;
                }
                Read();  // an object or array: read with the rest, so that changing it changes this object
            }
            int i = IndexOf(name);
            value = i < 0 ? null : _values[i];
            return i >= 0;
        }

        /// <summary>Removes a member, keeping the others' order; false when there was none.</summary>
        public bool Remove(string name)
        {
            int i = Read().IndexOf(name);
            if (i < 0) return false;
            _count--;
            Array.Copy(_names, i + 1, _names, i, _count - i);
            Array.Copy(_values, i + 1, _values, i, _count - i);
            _names[_count] = null;
            _values[_count] = null;
            return true;
        }

        /// <summary>The members' names, in order.</summary>
        public IEnumerable<string> Keys
        {
            get
            {
                Read();
                for (int i = 0; i < _count; i++) yield return _names[i]!;
            }
        }

        /// <summary>A copy whose nested objects and arrays are copies too.</summary>
        public NbObject Clone()
        {
            Read();
            var copy = new NbObject(_count);
            for (int i = 0; i < _count; i++) copy.Append(_names[i]!, CloneValue(_values[i]));
            return copy;
        }

        static object? CloneValue(object? value)
        {
            switch (value)
            {
                case NbObject o: return o.Clone();
                case List<object> list:
                    var copy = new List<object?>(list.Count);
                    foreach (var item in list) copy.Add(CloneValue(item));
                    return copy;
                default: return value;
            }
        }

        [MethodImpl(Hot.Optimize)]
        int IndexOf(string name)
        {
            if (name == null) throw new ArgumentNullException(nameof(name));
            for (int i = 0; i < _count; i++) if (string.Equals(_names[i], name)) return i;
            return -1;
        }

        [MethodImpl(Hot.Optimize)]
        internal void Append(string name, object? value)
        {
            Read();
            if (_count == _names.Length)
            {
                Array.Resize(ref _names, _count * 2);
                Array.Resize(ref _values, _count * 2);
            }
            _names[_count] = name;
            _values[_count++] = value;
        }

        internal string NameAt(int i) => Read()._names[i]!;

        internal object? ValueAt(int i) => Read()._values[i];

        /// <summary>The members, in order.</summary>
        public IEnumerator<KeyValuePair<string, object?>> GetEnumerator()
        {
            Read();
            for (int i = 0; i < _count; i++) yield return new KeyValuePair<string, object?>(_names[i]!, _values[i]);
        }

        IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

        /// <summary>The object as Dragonflow stores it.</summary>
        public override string ToString() => System.Text.Encoding.UTF8.GetString(NbJson.Serialize(this));
    }
}
