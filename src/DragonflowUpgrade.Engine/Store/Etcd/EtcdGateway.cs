using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.IO;
using System.Net;
using System.Net.Http;
using System.Text;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;

namespace DragonflowUpgrade.Engine.Store
{
    /// <summary>
    /// etcd's JSON gateway, over HTTP or HTTPS (<see cref="NbTls"/>): a request is a JSON body
    /// posted to a <c>/v3/...</c> path, its answer a JSON document. With a user, it signs in
    /// (<c>/v3/auth/authenticate</c>) and signs in again when the token expires. Its errors
    /// name the database by <see cref="Location"/> and never hold the password.
    /// <para>
    /// Requests go to one endpoint (of a cluster's members) until it fails to answer; then to the
    /// next. A request that only reads (or whose repetition is harmless) is sent again there; a
    /// write is not: its outcome is unknown (<see cref="EtcdOutcomeUnknownException"/>) and the
    /// caller reads back whether it was applied before it sends it again (<see cref="Checked"/>).
    /// An answer saying the member cannot serve for now (HTTP 503, gRPC Unavailable: no leader
    /// while a new one is elected, the leader changed, a proposal timed out) counts as no answer;
    /// while some member gives such answers, the endpoints are tried in turn again for up to
    /// <see cref="FailoverTimeout"/>, the time a cluster takes to elect a leader many times over.
    /// </para>
    /// </summary>
    sealed class EtcdGateway : IDisposable
    {
        internal const int RequestsInFlight = 4;
        static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(60);
        internal static readonly TimeSpan FailoverTimeout = TimeSpan.FromSeconds(30);
        static readonly TimeSpan RoundPause = TimeSpan.FromMilliseconds(100);

        readonly HttpClient _http;
        readonly NbEndpoint[] _endpoints;
        readonly string _scheme;
        int _current;  // the endpoint in use
        readonly string? _user, _password;
        volatile string? _token;
        // Why a request's server certificate was refused, until that request's failure is reported:
        // a refusal says nothing of another request, or of another member.
        readonly ConcurrentDictionary<HttpRequestMessage, string> _tlsProblems = new ConcurrentDictionary<HttpRequestMessage, string>();

        public EtcdGateway(IReadOnlyList<NbEndpoint> endpoints, string location, string? user, string? password, NbTls? tls = null)
        {
            _endpoints = System.Linq.Enumerable.ToArray(System.Linq.Enumerable.Distinct(endpoints));
            _scheme = tls != null ? "https" : "http";
            var handler = new HttpClientHandler { UseProxy = false, AutomaticDecompression = DecompressionMethods.None };
            try { handler.MaxConnectionsPerServer = RequestsInFlight + 4; }
            catch (PlatformNotSupportedException) { }
            if (tls != null)
            {
                handler.ClientCertificates.AddRange(tls.ClientCertificates);
                handler.ServerCertificateCustomValidationCallback = (request, certificate, __, errors) =>
                {
                    // Every request is made with its URI (SendTo).
                    string? problem = tls.Problem(request.RequestUri!.Host, certificate, errors);
                    if (problem != null) _tlsProblems[request] = problem;
                    return problem == null;
                };
            }
            _http = new HttpClient(handler) { Timeout = RequestTimeout };
            Location = location;
            _user = user;
            _password = password;
        }

        /// <summary><c>etcd://host:port[,host:port…]</c>, without the user and password.</summary>
        public string Location { get; }

        public bool HasUser => _user != null;

        /// <summary>The endpoint requests go to now.</summary>
        internal NbEndpoint Serving => _endpoints[Volatile.Read(ref _current)];

        /// <summary>
        /// Sends a write with <paramref name="send"/>; when its outcome is unknown, asks
        /// <paramref name="applied"/> (a read, at the next endpoint) whether it was applied, and
        /// sends it again only if it was not: it is sent at most once per endpoint (each unknown outcome
        /// moves to the next), and not again after <see cref="FailoverTimeout"/>. Returns what
        /// <paramref name="send"/> returned, or <paramref name="whenApplied"/>; when the last send's
        /// outcome is unknown too, its <see cref="EtcdOutcomeUnknownException"/>.
        /// </summary>
        public async Task<T> Checked<T>(Func<Task<T>> send, Func<Task<bool>> applied, T whenApplied)
        {
            var deadline = DateTime.UtcNow + FailoverTimeout;
            for (int tries = 1; ; tries++)
            {
                try { return await send().ConfigureAwait(false); }
                catch (EtcdOutcomeUnknownException) when (tries < _endpoints.Length && DateTime.UtcNow < deadline)
                {
                    if (await applied().ConfigureAwait(false)) return whenApplied;
                }
            }
        }

        public void Authenticate()
        {
            using (var doc = Send("/v3/auth/authenticate", w =>
            {
                w.WriteString("name", _user);
                w.WriteString("password", _password);
            }, "sign in to", withToken: false, resendable: true).GetAwaiter().GetResult())
            {
                string? token = doc.RootElement.TryGetProperty("token", out var t) ? t.GetString() : null;
                if (token == null || token.Length == 0)
                    throw new NbStoreException($"Could not sign in to the etcd NB database at {Location}: etcd gave no token (is authentication enabled there?).");
                _token = token;
            }
        }

        /// <summary>A request; <paramref name="resendable"/> false for a write, whose outcome is unknown when its answer is lost.</summary>
        public JsonDocument Call(string path, Action<Utf8JsonWriter> body, string what, bool resendable = true) => Await(CallAsync(path, body, what, resendable), what);

        public async Task<JsonDocument> CallAsync(string path, Action<Utf8JsonWriter> body, string what, bool resendable = true)
        {
            try { return await Send(path, body, what, withToken: true, resendable).ConfigureAwait(false); }
            catch (TokenExpiredException) when (_user != null)
            {
                // Tokens expire (simple tokens after --auth-token-ttl idle seconds): sign in again, once.
                // A request refused for its token was not applied.
                Authenticate();
                return await Send(path, body, what, withToken: true, resendable).ConfigureAwait(false);
            }
        }

        sealed class TokenExpiredException : NbStoreException
        {
            public TokenExpiredException(string message) : base(message) { }
        }

        async Task<JsonDocument> Send(string path, Action<Utf8JsonWriter> body, string what, bool withToken, bool resendable)
        {
            var buffer = new MemoryStream();
            using (var w = new Utf8JsonWriter(buffer))
            {
                w.WriteStartObject();
                body(w);
                w.WriteEndObject();
            }
            int first = Volatile.Read(ref _current);
            var deadline = DateTime.UtcNow + FailoverTimeout;
            UnavailableAnswer? unavailable = null;  // the last such answer of this round of the endpoints
            for (int attempt = 0; ; attempt++)
            {
                int at = (first + attempt) % _endpoints.Length;
                var (doc, noAnswer) = await SendTo(at, path, buffer, what, withToken).ConfigureAwait(false);
                if (doc != null) return doc;
                var failure = noAnswer!;  // SendTo says why whenever it gives no answer
                // The endpoint did not answer, or cannot serve: the next one is used from now on.
                Interlocked.CompareExchange(ref _current, (at + 1) % _endpoints.Length, at);
                if (!resendable)
                    throw new EtcdOutcomeUnknownException(Location, _endpoints[at], path, Innermost(failure), failure);
                unavailable = failure as UnavailableAnswer ?? unavailable;
                if ((attempt + 1) % _endpoints.Length != 0) continue;
                // Every endpoint tried. A member that answers it cannot serve yet (an election) is waited for.
                if (unavailable != null && DateTime.UtcNow < deadline)
                {
                    unavailable = null;
                    await Task.Delay(RoundPause).ConfigureAwait(false);
                    continue;
                }
                if (unavailable != null)
                    throw new NbStoreException($"No member of the etcd NB database at {Location} could serve {path} for {FailoverTimeout.TotalSeconds:0} s: {Innermost(unavailable)} Check that most of its members run and reach each other (etcdctl endpoint status).", unavailable);
                if (failure is TaskCanceledException)
                    throw new NbStoreException($"The etcd NB database at {Location} did not answer within {RequestTimeout.TotalSeconds:0} s ({path}).", failure);
                throw new NbStoreException($"Cannot reach the etcd NB database at {Location}: {Innermost(failure)} Check that etcd runs there and the address is right.", failure);
            }
        }

        /// <summary>A member's answer that it cannot serve for now (no leader, an election, a proposal timed out).</summary>
        sealed class UnavailableAnswer : Exception
        {
            public UnavailableAnswer(NbEndpoint endpoint, string message) : base($"{endpoint} answered: {message}.") { }
        }

        // One request to one endpoint: its answer, or why the endpoint gave none (an answer that is an error throws).
        async Task<(JsonDocument? Answer, Exception? Failure)> SendTo(int at, string path, MemoryStream buffer, string what, bool withToken)
        {
            using (var request = new HttpRequestMessage(HttpMethod.Post, new Uri($"{_scheme}://{_endpoints[at]}/{path.TrimStart('/')}")))
            {
                request.Content = new ByteArrayContent(buffer.GetBuffer(), 0, (int)buffer.Length);
                request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
                string? token = _token;
                if (withToken && token != null) request.Headers.TryAddWithoutValidation("Authorization", token);
                HttpResponseMessage response;
                try { response = await _http.SendAsync(request, HttpCompletionOption.ResponseContentRead).ConfigureAwait(false); }
                catch (HttpRequestException e) when (_tlsProblems.TryGetValue(request, out string? tlsProblem))
                {
                    throw new NbCertificateException(Location, tlsProblem, e);
                }
                catch (Exception e) when (e is HttpRequestException || e is TaskCanceledException)
                {
                    return (null, e);
                }
                finally { _tlsProblems.TryRemove(request, out _); }
                using (response)
                {
                    byte[] content = await response.Content.ReadAsByteArrayAsync().ConfigureAwait(false);
                    if (response.IsSuccessStatusCode)
                    {
                        try { return (JsonDocument.Parse(content), null); }
                        catch (JsonException e)
                        {
                            throw new NbStoreException($"Could not {what} the etcd NB database at {Location}: its gateway answered {path} with what is {Json.NbJson.NotJson(e)}.");
                        }
                    }
                    // A gateway or proxy may echo the request, sign-in password and all.
                    string message = NbDatabaseUri.Scrub(GatewayMessage(content), _password);
                    if (response.StatusCode == HttpStatusCode.ServiceUnavailable || GatewayCode(content) == GrpcUnavailable)
                        return (null, new UnavailableAnswer(_endpoints[at], message));
                    if (response.StatusCode == HttpStatusCode.Unauthorized && withToken && _user != null && message.Contains("token"))
                        throw new TokenExpiredException(message);
                    if (response.StatusCode == HttpStatusCode.NotFound && !IsJson(content))
                        message = $"its gateway has no {path} (etcd 3.4 or newer is needed, serving clients on that port)";
                    else if (message.Contains("user name is empty") || message.Contains("invalid auth token"))
                        message += " (this etcd has authentication enabled: give etcd://user:password@host:port)";
                    else if (message.Contains("too large") || message.Contains("larger than max"))
                        message += " (etcd's --max-request-bytes, 1.5 MiB unless set, bounds one object)";
                    throw new NbStoreException($"Could not {what} the etcd NB database at {Location}: {message} (HTTP {(int)response.StatusCode}).");
                }
            }
        }

        /// <summary>The gateway's error message (<c>{"error":..,"message":..,"code":..}</c>), or the start of the body.</summary>
        static string GatewayMessage(byte[] content)
        {
            try
            {
                using (var doc = JsonDocument.Parse(content))
                    if (doc.RootElement.ValueKind == JsonValueKind.Object)
                        foreach (var name in new[] { "message", "error" })
                            if (doc.RootElement.TryGetProperty(name, out var m) && m.ValueKind == JsonValueKind.String && m.GetString() is { Length: > 0 } message)
                                return message;
            }
            catch (JsonException) { }
            string text = Encoding.UTF8.GetString(content, 0, Math.Min(content.Length, 200)).Trim();
            return text.Split('\n')[0].Trim();
        }

        const int GrpcUnavailable = 14;

        /// <summary>The gRPC status code of the gateway's error answer, or -1.</summary>
        static int GatewayCode(byte[] content)
        {
            try
            {
                using (var doc = JsonDocument.Parse(content))
                    return doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("code", out var c) &&
                        c.ValueKind == JsonValueKind.Number && c.TryGetInt32(out int code) ? code : -1;
            }
            catch (JsonException) { return -1; }
        }

        static bool IsJson(byte[] content)
        {
            try { using (JsonDocument.Parse(content)) return true; }
            catch (JsonException) { return false; }
        }

        static string Innermost(Exception e)
        {
            while (e.InnerException != null) e = e.InnerException;
            string m = e.Message.Trim();
            return m.EndsWith(".") ? m : m + ".";
        }

        public T Await<T>(Task<T> task, string what)
        {
            Await((Task)task, what);
            return task.Result;
        }

        public void Await(Task task, string what)
        {
            try { task.GetAwaiter().GetResult(); }
            catch (NbStoreException) { throw; }
            catch (Exception e) when (e is JsonException || e is InvalidOperationException || e is KeyNotFoundException || e is FormatException)
            {
                throw new NbStoreException($"Could not {what} the etcd NB database at {Location}: its gateway's answer was not what etcd v3 sends ({e.Message}).", e);
            }
        }

        public void Dispose() => _http.Dispose();
    }

    /// <summary>
    /// A write was sent to an etcd endpoint that gave no answer: whether etcd applied it is not
    /// known. <see cref="EtcdGateway.Checked"/> reads back whether it was before sending it again.
    /// </summary>
    sealed class EtcdOutcomeUnknownException : NbStoreException
    {
        public EtcdOutcomeUnknownException(string location, NbEndpoint endpoint, string path, string why, Exception inner)
            : base($"The etcd NB database at {location} did not confirm a write ({path}) at {endpoint}: {why} Whether it was applied is not known.", inner)
        { }
    }
}
