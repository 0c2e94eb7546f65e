using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;
using DragonflowUpgrade.Engine.Errors;
using DragonflowUpgrade.Engine.Json;

namespace DragonflowUpgrade.Engine.Store
{
    /// <summary>One host and port of a server database.</summary>
    public struct NbEndpoint
    {
        public NbEndpoint(string host, int port) { Host = host; Port = port; }

        /// <summary>A host name or an IP address; an IPv6 address without its brackets.</summary>
        public string Host { get; }

        public int Port { get; }

        public override string ToString() => (Host.Contains(":") ? "[" + Host + "]" : Host) + ":" + Port.ToString(CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// A <c>-Database</c> value that names a server: <c>redis://[user:password@]host:port[/db]</c>,
    /// <c>redis-cluster://[user:password@]host:port[,host:port…]</c> (seeds of a Redis Cluster) or
    /// <c>etcd://[user:password@]host:port[,host:port…]</c>; over TLS <c>rediss://</c>,
    /// <c>rediss-cluster://</c> and <c>etcds://</c>, whose query may name the TLS files (<c>?ca=FILE&amp;cert=FILE&amp;key=FILE</c>,
    /// see <see cref="NbTlsFiles"/>). Parsed by hand rather than by
    /// <see cref="Uri"/>, so that a password may hold any character (<c>#</c>, <c>/</c>, <c>?</c>,
    /// <c>@</c>, spaces): the user information runs to the last <c>@</c>, so an <c>@</c> in a
    /// file's path after it is written <c>%40</c>. <see cref="Display"/> is the value as typed with the password
    /// masked; only that form, or <see cref="Location"/>, may be printed anywhere.
    /// </summary>
    public sealed class NbDatabaseUri
    {
        /// <summary>What stands for a password in <see cref="Display"/>.</summary>
        public const string Mask = "***";

        internal const string Forms = "redis://[user:password@]host:port[/db], redis-cluster://[user:password@]host:port[,host:port…], etcd://[user:password@]host:port[,host:port…] (over TLS rediss://, rediss-cluster:// and etcds://, with ?ca=FILE&cert=FILE&key=FILE) or a path ending in .jsonl or .jsonl.gz";

        /// <summary>The names a TLS URI's query may give: the CA's certificates, the client certificate and its key.</summary>
        static readonly string[] TlsNames = { "ca", "cert", "key" };

        NbDatabaseUri(string scheme, IReadOnlyList<NbEndpoint> endpoints, string path, string? user, string? password, string display, NbTlsFiles? tlsFiles)
        {
            Scheme = scheme;
            TlsFiles = tlsFiles;
            Endpoints = endpoints;
            Path = path;
            User = user;
            Password = password;
            Display = display;
        }

        /// <summary><c>redis</c>, <c>rediss</c>, <c>redis-cluster</c>, <c>rediss-cluster</c>, <c>etcd</c> or <c>etcds</c>.</summary>
        public string Scheme { get; }

        /// <summary>The kind of server, whatever the transport: <c>redis</c>, <c>redis-cluster</c> or <c>etcd</c>.</summary>
        public string Kind => KindOf(Scheme);

        static string KindOf(string scheme) => scheme == "rediss" || scheme == "etcds" ? scheme.Substring(0, scheme.Length - 1) : scheme == "rediss-cluster" ? "redis-cluster" : scheme;

        static readonly string[] Schemes = { "redis", "rediss", "redis-cluster", "rediss-cluster", "etcd", "etcds" };

        /// <summary>Whether the connections use TLS (<c>rediss://</c>, <c>etcds://</c>).</summary>
        public bool UsesTls => Scheme == "rediss" || Scheme == "etcds" || Scheme == "rediss-cluster";

        /// <summary>The TLS files the query names (each null when not given); null without TLS.</summary>
        public NbTlsFiles? TlsFiles { get; }

        public IReadOnlyList<NbEndpoint> Endpoints { get; }

        /// <summary>The path after the endpoints, without its slashes: a Redis database number, or empty.</summary>
        public string Path { get; }

        /// <summary>The Redis database number (0 when none is given).</summary>
        public int RedisDatabase => Path.Length == 0 ? 0 : int.Parse(Path, CultureInfo.InvariantCulture);

        /// <summary>The user name; null when none is given.</summary>
        public string? User { get; }

        /// <summary>The password, unescaped; null when none is given. Never print it.</summary>
        public string? Password { get; }

        /// <summary>The value as given, with its password masked: fit to print.</summary>
        public string Display { get; }

        /// <summary>
        /// Where the database is, without user or password, in one form whatever the spelling:
        /// <c>redis://host:port/db</c> (the db always), <c>redis-cluster://host:port[,…]</c>, <c>etcd://host:port[,…]</c>; host names lower-case.
        /// </summary>
        public string Location => Scheme + "://" + string.Join(",", Endpoints.Distinct()) + (Kind == "redis" ? "/" + RedisDatabase.ToString(CultureInfo.InvariantCulture) : "");

        /// <summary>
        /// Whether two locations (of stores, or of backup headers) are one database: the same Redis
        /// host, port and database number; for etcd and Redis Cluster, a shared endpoint, since a cluster may be listed
        /// by any of its members and etcd's answers name no cluster that a backup header keeps.
        /// A value that is no server URI (a file) is compared as it is.
        /// </summary>
        public static bool SameDatabase(string? a, string? b)
        {
            if (string.Equals(a, b, StringComparison.Ordinal)) return true;
            var x = TryParse(a);
            var y = TryParse(b);
            if (x == null || y == null || x.Scheme != y.Scheme) return false;
            return x.Kind == "redis"
                ? x.Location == y.Location
                : x.Endpoints.Intersect(y.Endpoints).Any();
        }

        /// <summary>
        /// <paramref name="location"/> fit to print: a server URI as its <see cref="Location"/>, anything
        /// else (a file, a value that does not parse) redacted.
        /// </summary>
        [return: System.Diagnostics.CodeAnalysis.NotNullIfNotNull(nameof(location))]
        public static string? PrintableLocation(string? location) => location == null ? null : TryParse(location)?.Location ?? Redact(location);

        static NbDatabaseUri? TryParse(string? text)
        {
            if (text == null || NbStoreFactory.IsFile(text)) return null;
            try { return Parse(text); }
            catch (NbDatabaseUriException) { return null; }
        }

        public override string ToString() => Display;

        /// <summary>The same database with another user and password (from a credential rather than the URI).</summary>
        public NbDatabaseUri WithCredential(string? user, string password) =>
            new NbDatabaseUri(Scheme, Endpoints, Path, string.IsNullOrEmpty(user) ? null : user, password, Display, TlsFiles);

        /// <summary>The same database with its TLS files' paths passed through <paramref name="resolve"/>.</summary>
        public NbDatabaseUri WithTlsFilesResolved(Func<string, string>? resolve) =>
            TlsFiles == null || resolve == null ? this : new NbDatabaseUri(Scheme, Endpoints, Path, User, Password, Display, TlsFiles.Resolved(resolve));

        /// <summary>
        /// <paramref name="text"/> with anything that may be a password masked: the user
        /// information (up to the last <c>@</c>) keeps its user name only, a query keeps the
        /// TLS files' paths (<c>ca</c>, <c>cert</c>, <c>key</c>) and masks any other value, and a
        /// fragment is masked. Never throws; a file path comes back as it is.
        /// </summary>
        [return: System.Diagnostics.CodeAnalysis.NotNullIfNotNull(nameof(text))]
        public static string? Redact(string? text)
        {
            if (text == null) return null;
            text = text.Trim();
            if (NbStoreFactory.IsFile(text)) return text;
            int start = SchemeEnd(text) + 1;   // 0 when there is no scheme
            if (start > 0 && string.CompareOrdinal(text, start, "//", 0, 2) == 0) start += 2;
            var sb = new StringBuilder(text.Substring(0, start));
            int at = text.LastIndexOf('@');
            int hostStart = start;
            if (at >= start)
            {
                string info = text.Substring(start, at - start);
                int colon = info.IndexOf(':');
                sb.Append(colon >= 0 ? info.Substring(0, colon) + ":" + Mask : Mask).Append('@');
                hostStart = at + 1;
            }
            string rest = text.Substring(hostStart);
            int hash = rest.IndexOf('#');
            if (hash >= 0) rest = rest.Substring(0, hash + 1) + Mask;
            int question = rest.IndexOf('?');
            if (question < 0 || question > (hash < 0 ? rest.Length : hash)) return sb.Append(rest).ToString();
            sb.Append(rest, 0, question + 1);
            string query = hash >= 0 && hash > question ? rest.Substring(question + 1, hash - question - 1) : rest.Substring(question + 1);
            sb.Append(string.Join("&", query.Split('&').Select(p =>
            {
                int eq = p.IndexOf('=');
                return eq >= 0 && TlsNames.Contains(p.Substring(0, eq).ToLowerInvariant()) ? p : (eq >= 0 ? p.Substring(0, eq + 1) : "") + Mask;
            })));
            if (hash >= 0 && hash > question) sb.Append(rest.Substring(hash));
            return sb.ToString();
        }

        /// <summary>
        /// A server's own text (an error it answered) with <paramref name="password"/> masked, as
        /// typed and %-escaped: a server may echo the command or request that carried it.
        /// </summary>
        [return: System.Diagnostics.CodeAnalysis.NotNullIfNotNull(nameof(serverText))]
        public static string? Scrub(string? serverText, string? password)
        {
            if (serverText == null || serverText.Length == 0 || password == null || password.Length == 0) return serverText;
            foreach (string form in new[] { password, Uri.EscapeDataString(password), System.Text.Json.JsonEncodedText.Encode(password).ToString() })
                if (form.Length > 0) serverText = serverText.Replace(form, Mask);
            return serverText;
        }

        /// <summary>Parses a server URI; a value that is not one throws <see cref="NbDatabaseUriException"/> naming its redacted form.</summary>
        public static NbDatabaseUri Parse(string text)
        {
            if (string.IsNullOrWhiteSpace(text))
                throw new NbDatabaseUriException("", "No NB database given.");
            text = text.Trim();
            string display = Redact(text);
            int colon = SchemeEnd(text);
            if (colon <= 1)
                throw new NbDatabaseUriException(display, $"'{display}' is neither an NB database URI nor a path ending in .jsonl or .jsonl.gz.");
            string scheme = text.Substring(0, colon).ToLowerInvariant();
            if (!Schemes.Contains(scheme))
                throw new NbDatabaseUriException(display, $"'{display}': '{scheme}' databases are not supported; the module opens Redis (redis://, rediss:// over TLS), Redis Cluster (redis-cluster://, rediss-cluster:// over TLS), etcd (etcd://, etcds:// over TLS) and .jsonl files.");
            bool tls = scheme == "rediss" || scheme == "etcds" || scheme == "rediss-cluster";
            string kind = KindOf(scheme);
            if (string.CompareOrdinal(text, colon + 1, "//", 0, 2) != 0)
                throw new NbDatabaseUriException(display, $"'{display}': a {scheme} URI has two slashes after '{scheme}:', as in {scheme}://host:port.");
            int start = colon + 3;
            int at = text.LastIndexOf('@');
            string? user = null, password = null;
            int hostStart = start;
            if (at >= start)
            {
                (user, password) = UserInfo(text.Substring(start, at - start), scheme, display);
                hostStart = at + 1;
            }
            string rest = text.Substring(hostStart);
            NbTlsFiles? tlsFiles = tls ? new NbTlsFiles(null, null, null) : null;
            int cut = tls ? rest.IndexOf('#') : rest.IndexOfAny(new[] { '?', '#' });
            if (cut >= 0)
                throw new NbDatabaseUriException(display, $"'{display}': an NB database URI has no {(tls ? "fragment" : "query or fragment")} (the '{rest[cut]}' and what follows it). " +
                    $"Give a password before the host ({scheme}://user:password@host:port) or with -Credential" +
                    (tls ? "." : $"; TLS files go in the query of a TLS URI ({kind.Replace("redis", "rediss").Replace("etcd", "etcds")}://host:port?ca=FILE)."));
            int query = tls ? rest.IndexOf('?') : -1;
            if (query >= 0)
            {
                tlsFiles = TlsQuery(rest.Substring(query + 1), display);
                rest = rest.Substring(0, query);
            }
            int slash = rest.IndexOf('/');
            string hosts = slash < 0 ? rest : rest.Substring(0, slash);
            string path = slash < 0 ? "" : rest.Substring(slash + 1).TrimEnd('/');
            var endpoints = hosts.Split(',').Select(h => Endpoint(h, kind, display)).ToList();
            if (kind == "redis")
            {
                if (endpoints.Count > 1)
                    throw new NbDatabaseUriException(display, $"'{display}': a Redis NB database is one host:port; give one of {string.Join(", ", endpoints)}.");
                if (path.Length > 0 && (!path.All(c => c >= '0' && c <= '9') || path.Length > 9))
                    throw new NbDatabaseUriException(display, $"'{display}': the path after host:port must be a Redis database number, not '{path}'.");
            }
            else if (kind == "redis-cluster" && path.Length > 0)
                throw new NbDatabaseUriException(display, $"'{display}': a Redis Cluster has one database only, so its URI has no path ('/{path}'): {scheme}://host:port[,host:port…].");
            else if (path.Length > 0)
                throw new NbDatabaseUriException(display, $"'{display}': an etcd NB database is etcd://host:port, with no path ('/{path}'); Dragonflow keeps its tables at the root of the key space.");
            if (kind == "etcd" && (user != null || password != null) && (string.IsNullOrEmpty(user) || string.IsNullOrEmpty(password)))
                throw new NbDatabaseUriException(display, $"'{display}': etcd needs both a user name and a password: etcd://user:password@host:port.");
            return new NbDatabaseUri(scheme, endpoints, path, user, password, display, tlsFiles);
        }

        // ca=FILE&cert=FILE&key=FILE, each at most once, %-escaped; cert and key go together.
        static NbTlsFiles TlsQuery(string query, string display)
        {
            var given = new Dictionary<string, string>();
            foreach (string pair in query.Split('&'))
            {
                if (pair.Length == 0) continue;
                int eq = pair.IndexOf('=');
                string name = (eq < 0 ? pair : pair.Substring(0, eq)).ToLowerInvariant();
                if (!TlsNames.Contains(name))
                    throw new NbDatabaseUriException(display, $"'{display}': the query takes only ca=FILE, cert=FILE and key=FILE.");
                string value = eq < 0 ? "" : Unescape(pair.Substring(eq + 1), $"the {name} file's path", display);
                if (value.Length == 0)
                    throw new NbDatabaseUriException(display, $"'{display}': {name}= names no file.");
                if (given.ContainsKey(name))
                    throw new NbDatabaseUriException(display, $"'{display}': {name}= is given twice.");
                given.Add(name, value);
            }
            given.TryGetValue("ca", out string? ca);
            given.TryGetValue("cert", out string? cert);
            given.TryGetValue("key", out string? key);
            if ((cert == null) != (key == null))
                throw new NbDatabaseUriException(display, $"'{display}': a client certificate needs both cert=FILE and key=FILE (its private key); {(cert == null ? "cert" : "key")}= is missing.");
            return new NbTlsFiles(ca, cert, key);
        }

        // The index of the ':' that ends a URI's scheme, or -1.
        static int SchemeEnd(string text)
        {
            for (int i = 0; i < text.Length; i++)
            {
                char c = text[i];
                if (c == ':') return i > 0 ? i : -1;
                bool ok = c < 128 && (char.IsLetter(c) || (i > 0 && (char.IsDigit(c) || c == '+' || c == '-' || c == '.')));
                if (!ok) return -1;
            }
            return -1;
        }

        static (string? User, string? Password) UserInfo(string info, string scheme, string display)
        {
            if (info.Length == 0) return (null, null);
            int colon = info.IndexOf(':');
            if (colon < 0)
            {
                // redis://password@host is Redis's password-only form; for etcd it is a user without a password.
                bool redis = scheme == "redis" || scheme == "redis-cluster";
                string only = Unescape(info, redis ? "the password" : "the user name", display);
                return redis ? (null, only) : (only, null);
            }
            string user = Unescape(info.Substring(0, colon), "the user name", display);
            string password = Unescape(info.Substring(colon + 1), "the password", display);
            return (user.Length == 0 ? null : user, password);
        }

        /// <summary>Decodes %XX escapes; a '%' that starts none, or escapes that are not UTF-8, are refused (without repeating the text: it may be a password).</summary>
        static string Unescape(string s, string what, string display)
        {
            if (s.IndexOf('%') < 0) return s;
            var bytes = new List<byte>(s.Length);
            for (int i = 0; i < s.Length; i++)
            {
                if (s[i] != '%') { bytes.AddRange(Encoding.UTF8.GetBytes(s[i].ToString())); continue; }
                if (i + 2 >= s.Length || !IsHex(s[i + 1]) || !IsHex(s[i + 2]))
                    throw new NbDatabaseUriException(display, $"'{display}': {what} has a '%' that does not start a %XX escape (character {i + 1} of {what}).",
                        "Write a '%' in a user name or password as %25, or give the password with -Credential.");
                bytes.Add(byte.Parse(s.Substring(i + 1, 2), NumberStyles.HexNumber, CultureInfo.InvariantCulture));
                i += 2;
            }
            try { return NbJson.Utf8Text(bytes.ToArray()); }
            catch (DecoderFallbackException)
            {
                throw new NbDatabaseUriException(display, $"'{display}': the %XX escapes in {what} do not decode to UTF-8 text.",
                    "Escape each byte of the UTF-8 encoding of a character (é is %C3%A9), or give the password with -Credential.");
            }
        }

        static bool IsHex(char c) => (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');

        static NbEndpoint Endpoint(string text, string scheme, string display)
        {
            int defaultPort = scheme.StartsWith("redis", StringComparison.Ordinal) ? 6379 : 2379;  // the same over TLS
            string host;
            string? port = null;
            if (text.StartsWith("[", StringComparison.Ordinal))
            {
                int close = text.IndexOf(']');
                if (close < 0 || (close + 1 < text.Length && text[close + 1] != ':'))
                    throw new NbDatabaseUriException(display, $"'{display}': '{text}' is not an IPv6 address in brackets followed by :port, as in {scheme}://[::1]:{defaultPort}.");
                host = text.Substring(1, close - 1).ToLowerInvariant();
                if (close + 1 < text.Length) port = text.Substring(close + 2);
                if (!System.Net.IPAddress.TryParse(host, out var ip) || ip.AddressFamily != System.Net.Sockets.AddressFamily.InterNetworkV6)
                    throw new NbDatabaseUriException(display, $"'{display}': '[{host}]' is not an IPv6 address.");
            }
            else
            {
                int colon = text.LastIndexOf(':');
                host = colon < 0 ? text : text.Substring(0, colon);
                if (colon >= 0) port = text.Substring(colon + 1);
                if (host.Length == 0)
                    throw new NbDatabaseUriException(display, $"'{display}': no host: write {scheme}://host:{defaultPort}.");
                host = host.ToLowerInvariant();  // host names are case-blind: one spelling for Location
                if (!host.All(c => c < 128 && (char.IsLetterOrDigit(c) || c == '.' || c == '-' || c == '_')))
                    throw new NbDatabaseUriException(display, $"'{display}': '{host}' is not a host name or an IP address (an IPv6 address goes in brackets: [::1]:{defaultPort}).");
            }
            int number = defaultPort;
            if (port != null && (port.Length == 0 || port.Length > 5 || !port.All(c => c >= '0' && c <= '9') ||
                                 (number = int.Parse(port, CultureInfo.InvariantCulture)) < 1 || number > 65535))
                throw new NbDatabaseUriException(display, $"'{display}': the port '{port}' is not a number from 1 to 65535 (the {scheme} default is {defaultPort}).");
            return new NbEndpoint(host, number);
        }
    }

    /// <summary>A <c>-Database</c> value that is no NB database URI or path; the target and message carry only its redacted form.</summary>
    public sealed class NbDatabaseUriException : DfException
    {
        public NbDatabaseUriException(string display, string message, string? recommendedAction = null, Exception? inner = null)
            : this("NbDatabaseUriInvalid", display, message, recommendedAction, inner)
        { }

        NbDatabaseUriException(string errorId, string display, string message, string? recommendedAction, Exception? inner)
            : base(errorId, DfErrorCategory.InvalidArgument, message, display,
                   recommendedAction ?? "Give -Database as " + NbDatabaseUri.Forms + "; escape a '%' in a user name or password as %25, or pass the password with -Credential.", inner)
        { }

        /// <summary>A URI whose password is the mask, given without a credential: its password was never typed here.</summary>
        internal static NbDatabaseUriException CredentialMissing(string display) =>
            new NbDatabaseUriException("NbDatabaseCredentialMissing", display,
                $"'{display}' has its password masked, and this session has not been given that database with its password.",
                "Give -Database with the password, or the password with -Credential.", null);
    }
}
