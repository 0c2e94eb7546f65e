using System;
using System.IO;
using System.Net;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Threading;
using System.Threading.Tasks;
using StackExchange.Redis;
using StackExchange.Redis.Configuration;

namespace DragonflowUpgrade.Engine.Store
{
    /// <summary>
    /// TLS for StackExchange.Redis's connections, each checking its node's certificate against the
    /// address it connects to (<see cref="NbTls.Authenticate"/>, as the store's own connections do).
    /// StackExchange.Redis's own TLS checks every node against one name (SslHost, by default the
    /// seeds' common host name), which a cluster whose nodes each have a certificate naming only
    /// themselves cannot pass. A certificate refused is told to the <c>refused</c> callback (the node, why).
    /// The handshake is given up after <c>timeout</c>, as the store's own connections give theirs up.
    /// </summary>
    sealed class RedisTlsTunnel : Tunnel
    {
        readonly NbTls _tls;
        readonly TimeSpan _timeout;
        readonly Action<NbEndpoint, string> _refused;

        public RedisTlsTunnel(NbTls tls, TimeSpan timeout, Action<NbEndpoint, string> refused)
        {
            _tls = tls;
            _timeout = timeout;
            _refused = refused;
        }

        public override ValueTask<Stream?> BeforeAuthenticateAsync(EndPoint endpoint, ConnectionType connectionType, Socket? socket, CancellationToken cancellationToken)
        {
            var node = RedisClusterNbStore.EndpointOf(endpoint);
            try { return new ValueTask<Stream?>(_tls.Authenticate(socket!, node.Host, _timeout)); }
            catch (AuthenticationException e)
            {
                _refused(node, e.Message);
                throw;
            }
        }
    }
}
