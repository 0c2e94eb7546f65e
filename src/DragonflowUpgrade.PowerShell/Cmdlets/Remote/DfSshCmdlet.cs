using System;
using System.Management.Automation;
using System.Threading;
using DragonflowUpgrade.Remote;

namespace DragonflowUpgrade.PowerShell.Cmdlets
{
    /// <summary>
    /// What every cmdlet that reaches nodes over SSH takes, declared once: the identity files'
    /// passphrase, the known_hosts file and whether a new host key is trusted, and how long
    /// connecting and a command may take. Ctrl+C cancels what runs.
    /// </summary>
    public abstract class DfSshCmdlet : DfCmdlet
    {
        readonly CancellationTokenSource _cancel = new CancellationTokenSource();

        /// <param name="commandTimeout">The seconds a command may take by default: what the cmdlet's commands usually need.</param>
        protected DfSshCmdlet(int commandTimeout) { CommandTimeout = commandTimeout; }

        /// <summary>The passphrase of the identity files, as the credential's password (its user name is not used).</summary>
        [Parameter]
        [Credential]
        public PSCredential? Credential { get; set; }

        /// <summary>The known_hosts file; ~/.ssh/known_hosts by default.</summary>
        [Parameter]
        public string? KnownHostsPath { get; set; }

        /// <summary>Trust and record the host key of a node known_hosts does not list. A changed key is refused all the same.</summary>
        [Parameter]
        public SwitchParameter AcceptNewHostKey { get; set; }

        /// <summary>Seconds that connecting and logging in may take.</summary>
        [Parameter]
        [ValidateRange(1, 3600)]
        public int ConnectTimeout { get; set; } = 10;

        /// <summary>Seconds that one remote command may take.</summary>
        [Parameter]
        [ValidateRange(1, 604800)]
        public int CommandTimeout { get; set; }

        protected CancellationToken Cancellation => _cancel.Token;

        protected override void StopProcessing() => _cancel.Cancel();

        /// <summary>The SSH options the parameters give.</summary>
        protected SshOptions SshOptions()
        {
            var options = new SshOptions
            {
                AcceptNewHostKey = AcceptNewHostKey,
                Passphrase = Credential?.GetNetworkCredential().Password,
                ConnectTimeout = TimeSpan.FromSeconds(ConnectTimeout),
                CommandTimeout = TimeSpan.FromSeconds(CommandTimeout),
            };
            if (!string.IsNullOrEmpty(KnownHostsPath)) options.KnownHostsPath = SessionState.Path.GetUnresolvedProviderPathFromPSPath(KnownHostsPath);
            return options;
        }
    }
}
