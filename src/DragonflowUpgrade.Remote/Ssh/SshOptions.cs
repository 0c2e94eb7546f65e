using System;
using System.IO;

namespace DragonflowUpgrade.Remote
{
    /// <summary>How to reach the nodes: host key policy, key passphrase, timeouts.</summary>
    public sealed class SshOptions
    {
        public static string DefaultKnownHostsPath =>
            Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".ssh", "known_hosts");

        /// <summary>The known_hosts file host keys are checked against (and recorded in, with <see cref="AcceptNewHostKey"/>).</summary>
        public string KnownHostsPath { get; set; } = DefaultKnownHostsPath;

        /// <summary>Trust and record the key of a host that known_hosts does not list. A changed key is refused all the same.</summary>
        public bool AcceptNewHostKey { get; set; }

        /// <summary>The passphrase of the identity files; null for unencrypted keys.</summary>
        public string? Passphrase { get; set; }

        /// <summary>How long connecting, key exchange and authentication may take.</summary>
        public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(10);

        /// <summary>How long one remote command may run.</summary>
        public TimeSpan CommandTimeout { get; set; } = TimeSpan.FromMinutes(3);
    }
}
