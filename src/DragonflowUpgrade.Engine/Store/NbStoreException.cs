using System;

namespace DragonflowUpgrade.Engine.Store
{
    /// <summary>The NB database could not be opened, read or written; the message says which and where.</summary>
    public class NbStoreException : Exception
    {
        public NbStoreException(string message, Exception inner = null) : base(message, inner) { }
    }
}
