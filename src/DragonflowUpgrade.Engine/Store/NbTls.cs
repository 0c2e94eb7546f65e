using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using DragonflowUpgrade.Engine.Errors;

namespace DragonflowUpgrade.Engine.Store
{
    /// <summary>
    /// The files a TLS connection to an NB database server uses, as a <c>rediss://</c> or
    /// <c>etcds://</c> URI's query names them: <c>ca</c> (PEM certificates of the CA that signed
    /// the server's), <c>cert</c> and <c>key</c> (PEM client certificate and its private key).
    /// Their paths may be shown; a key's contents never are.
    /// </summary>
    public sealed class NbTlsFiles
    {
        public NbTlsFiles(string? caFile, string? certFile, string? keyFile)
        {
            CaFile = caFile;
            CertFile = certFile;
            KeyFile = keyFile;
        }

        /// <summary>The CA's certificates; null: the server's certificate must chain to a CA this machine trusts.</summary>
        public string? CaFile { get; }

        /// <summary>The client certificate, or null for none.</summary>
        public string? CertFile { get; }

        /// <summary>The client certificate's private key (with <see cref="CertFile"/>); null when that is.</summary>
        public string? KeyFile { get; }

        /// <summary>The same files with each path passed through <paramref name="resolve"/> (a relative path is the caller's to resolve).</summary>
        public NbTlsFiles Resolved(Func<string, string>? resolve) =>
            resolve == null ? this : new NbTlsFiles(CaFile == null ? null : resolve(CaFile), CertFile == null ? null : resolve(CertFile), KeyFile == null ? null : resolve(KeyFile));
    }

    /// <summary>
    /// TLS for a store's connections, its files loaded: checks the server's certificate against
    /// the CA (or the machine's trusted CAs) and the host name, and offers the client certificate.
    /// A certificate that does not verify is an <see cref="NbCertificateException"/> saying why.
    /// </summary>
    sealed class NbTls
    {
        readonly X509Certificate2Collection? _authorities;
        readonly string? _caFile;

        NbTls(X509Certificate2Collection? authorities, string? caFile, X509Certificate2Collection client)
        {
            _authorities = authorities;
            _caFile = caFile;
            ClientCertificates = client;
        }

        /// <summary>The client certificate (with its key), or an empty collection.</summary>
        public X509Certificate2Collection ClientCertificates { get; }

        /// <summary>Loads the files of <paramref name="uri"/>'s TLS settings; null for a URI without TLS.</summary>
        public static NbTls? Load(NbDatabaseUri uri)
        {
            var files = uri.TlsFiles;
            if (files == null) return null;  // a URI has TLS files exactly when it uses TLS
            X509Certificate2Collection? authorities = null;
            if (files.CaFile != null)
            {
                authorities = new X509Certificate2Collection();
                foreach (var der in PemCertificates(uri, files.CaFile, "ca")) authorities.Add(new X509Certificate2(der));
            }
            var client = new X509Certificate2Collection();
            if (files.CertFile != null && files.KeyFile != null) client.Add(ClientCertificate(uri, files.CertFile, files.KeyFile));
            return new NbTls(authorities, files.CaFile, client);
        }

        static IEnumerable<byte[]> PemCertificates(NbDatabaseUri uri, string path, string name)
        {
            string text = Read(uri, path, name);
            const string Begin = "-----BEGIN CERTIFICATE-----", End = "-----END CERTIFICATE-----";
            var found = new List<byte[]>();
            for (int start = text.IndexOf(Begin, StringComparison.Ordinal); start >= 0; start = text.IndexOf(Begin, start + 1, StringComparison.Ordinal))
            {
                int end = text.IndexOf(End, start, StringComparison.Ordinal);
                if (end < 0) break;
                try { found.Add(Convert.FromBase64String(text.Substring(start + Begin.Length, end - start - Begin.Length))); }
                catch (FormatException) { throw FileInvalid(uri, path, name, "a certificate in it is not base64 text"); }
            }
            if (found.Count == 0) throw FileInvalid(uri, path, name, "it holds no PEM certificate (-----BEGIN CERTIFICATE-----)");
            return found;
        }

        static X509Certificate2 ClientCertificate(NbDatabaseUri uri, string certFile, string keyFile)
        {
            Read(uri, certFile, "cert");
            Read(uri, keyFile, "key");
#if NETSTANDARD2_0
            throw new NbDatabaseUriException(uri.Display, $"'{uri.Display}': a client certificate (cert= and key=) needs PowerShell 7; Windows PowerShell cannot read a PEM key.",
                "Run the module in PowerShell 7 (pwsh), or leave out cert= and key= if the server does not ask for a client certificate.");
#else
            try
            {
                using (var pem = X509Certificate2.CreateFromPemFile(certFile, keyFile))
                    // A key read from PEM is ephemeral, and Windows' TLS cannot use such a key: keep it as PKCS#12.
                    return new X509Certificate2(pem.Export(X509ContentType.Pkcs12));
            }
            // ArgumentException: a key that is not the certificate's.
            catch (Exception e) when (e is CryptographicException || e is ArgumentException)
            {
                // The message says what is wrong with the file, never what it holds.
                throw FileInvalid(uri, certFile, "cert", $"it and the key in {keyFile} (key=) are not a PEM certificate and its private key ({e.Message.TrimEnd('.')})");
            }
#endif
        }

        static string Read(NbDatabaseUri uri, string path, string name)
        {
            // Reading a pipe would wait for a writer, past any timeout.
            if (File.Exists(path) && !FileModes.IsRegularFile(path)) throw FileInvalid(uri, path, name, "it is not a regular file (a pipe, socket or device)");
            try { return File.ReadAllText(path); }
            catch (Exception e) when (e is IOException || e is UnauthorizedAccessException || e is ArgumentException || e is NotSupportedException)
            {
                throw FileInvalid(uri, path, name, $"it cannot be read ({e.Message.TrimEnd('.')})");
            }
        }

        static NbDatabaseUriException FileInvalid(NbDatabaseUri uri, string path, string name, string problem) =>
            new NbDatabaseUriException(uri.Display, $"'{uri.Display}': the file {path} ({name}=) is unusable: {problem}.",
                "Give ca= the PEM file of the CA that signed the server's certificate, and cert= and key= the PEM files of a client certificate and its key.");

        /// <summary>
        /// Starts TLS over <paramref name="stream"/> with the server at <paramref name="host"/>: its
        /// certificate must verify (<see cref="Problem"/>), and the client certificate is offered. A
        /// certificate refused throws an <see cref="AuthenticationException"/> saying why.
        /// </summary>
        public SslStream Authenticate(Stream stream, string host)
        {
            string? problem = null;
            var tls = new SslStream(stream, false, (_, certificate, __, errors) => (problem = Problem(host, certificate, errors)) == null);
            try
            {
                tls.AuthenticateAsClient(host, ClientCertificates, SslProtocols.None, checkCertificateRevocation: false);
                return tls;
            }
            catch (Exception e)
            {
                tls.Dispose();
                if (e is AuthenticationException) throw new AuthenticationException(problem ?? e.Message, e);
                throw;
            }
        }

        /// <summary>
        /// As <see cref="Authenticate(Stream, string)"/> over <paramref name="socket"/>, a read or send of the
        /// handshake given up after <paramref name="timeout"/>: a server that does not speak TLS may never answer it.
        /// </summary>
        public SslStream Authenticate(Socket socket, string host, TimeSpan timeout)
        {
            int receive = socket.ReceiveTimeout, send = socket.SendTimeout;
            socket.ReceiveTimeout = socket.SendTimeout = (int)timeout.TotalMilliseconds;
            try { return Authenticate(new NetworkStream(socket, ownsSocket: false), host); }
            finally
            {
                socket.ReceiveTimeout = receive;
                socket.SendTimeout = send;
            }
        }

        /// <summary>
        /// Why the certificate <paramref name="certificate"/> of the server at <paramref name="host"/> is
        /// refused, or null when it verifies: it chains to the CA given (or, with none, to one this
        /// machine trusts) and names the host.
        /// </summary>
        public string? Problem(string host, X509Certificate? certificate, SslPolicyErrors errors)
        {
            if (certificate == null || (errors & SslPolicyErrors.RemoteCertificateNotAvailable) != 0) return "the server sent no certificate";
            if ((errors & SslPolicyErrors.RemoteCertificateNameMismatch) != 0)
                return $"the server's certificate does not name the host '{host}' (connect by a name or address that its certificate lists)";
            if (_authorities == null)
                return (errors & SslPolicyErrors.RemoteCertificateChainErrors) == 0 ? null
                    : "the server's certificate is not signed by a CA this machine trusts (give the CA's certificate with ca=FILE)";
            using (var server = new X509Certificate2(certificate))
            using (var chain = new X509Chain())
            {
                chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                chain.ChainPolicy.VerificationFlags = X509VerificationFlags.AllowUnknownCertificateAuthority;
                chain.ChainPolicy.ExtraStore.AddRange(_authorities);
                bool built = chain.Build(server);
                var root = chain.ChainElements[chain.ChainElements.Count - 1].Certificate;
                if (!_authorities.Cast<X509Certificate2>().Any(a => a.Thumbprint == root.Thumbprint))
                    return $"the server's certificate ({server.Subject}) is not signed by the CA in {_caFile}";
                // An unknown root is allowed above (the CA given by file is that root), so it is not
                // among the reasons the certificate is refused.
                if (!built)
                    return $"the server's certificate ({server.Subject}) does not verify: " +
                           string.Join("; ", chain.ChainStatus.Where(s => s.Status != X509ChainStatusFlags.UntrustedRoot)
                               .Select(s => s.StatusInformation.Trim()).Where(s => s.Length > 0).Distinct());
                return null;
            }
        }
    }

    /// <summary>A server's TLS certificate did not verify; the message says why and names the database.</summary>
    public sealed class NbCertificateException : NbStoreException
    {
        public NbCertificateException(string location, string problem, Exception? inner = null)
            : base("NbDatabaseCertificateRejected", DfErrorCategory.SecurityError,
                   $"Refused the TLS connection to the NB database at {location}: {problem}.", location,
                   "Give ca= the CA that signed the server's certificate, and connect by a host name or address that the certificate lists.", inner)
        { }
    }
}
