using System;
using System.Collections.Generic;
using System.IO;
using System.Net;
using System.Net.Http;
using System.Text;
using System.Text.Json;
using System.Threading.Tasks;

namespace DragonflowUpgrade.Engine.Store
{
    /// <summary>
    /// etcd's JSON gateway at one endpoint, over HTTP or HTTPS (<see cref="NbTls"/>): a request is a JSON body posted to a
    /// <c>/v3/...</c> path, its answer a JSON document. With a user, it signs in
    /// (<c>/v3/auth/authenticate</c>) and signs in again when the token expires. Its errors
    /// name the database by <see cref="Location"/> and never hold the password.
    /// </summary>
    sealed class EtcdGateway : IDisposable
    {
        internal const int RequestsInFlight = 4;
        static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(60);

        readonly HttpClient _http;
        readonly string _user, _password;
        volatile string _token;
        volatile string _tlsProblem;  // why the server's certificate was refused

        public EtcdGateway(NbEndpoint endpoint, string location, string user, string password, NbTls tls = null)
        {
            var handler = new HttpClientHandler { UseProxy = false, AutomaticDecompression = DecompressionMethods.None };
            try { handler.MaxConnectionsPerServer = RequestsInFlight + 4; }
            catch (PlatformNotSupportedException) { }
            if (tls != null)
            {
                handler.ClientCertificates.AddRange(tls.ClientCertificates);
                handler.ServerCertificateCustomValidationCallback = (_, certificate, __, errors) =>
                {
                    string problem = tls.Problem(endpoint.Host, certificate, errors);
                    if (problem != null) _tlsProblem = problem;
                    return problem == null;
                };
            }
            _http = new HttpClient(handler) { BaseAddress = new Uri($"{(tls != null ? "https" : "http")}://{endpoint}/"), Timeout = RequestTimeout };
            Location = location;
            _user = user;
            _password = password;
        }

        /// <summary><c>etcd://host:port[,host:port…]</c>, without the user and password.</summary>
        public string Location { get; }

        public bool HasUser => _user != null;

        public void Authenticate()
        {
            using (var doc = Send("/v3/auth/authenticate", w =>
            {
                w.WriteString("name", _user);
                w.WriteString("password", _password);
            }, "sign in to", withToken: false).GetAwaiter().GetResult())
            {
                if (!doc.RootElement.TryGetProperty("token", out var token) || token.GetString().Length == 0)
                    throw new NbStoreException($"Could not sign in to the etcd NB database at {Location}: etcd gave no token (is authentication enabled there?).");
                _token = token.GetString();
            }
        }

        public JsonDocument Call(string path, Action<Utf8JsonWriter> body, string what) => Await(CallAsync(path, body, what), what);

        public async Task<JsonDocument> CallAsync(string path, Action<Utf8JsonWriter> body, string what)
        {
            try { return await Send(path, body, what, withToken: true).ConfigureAwait(false); }
            catch (TokenExpiredException) when (_user != null)
            {
                // Tokens expire (simple tokens after --auth-token-ttl idle seconds): sign in again, once.
                Authenticate();
                return await Send(path, body, what, withToken: true).ConfigureAwait(false);
            }
        }

        sealed class TokenExpiredException : NbStoreException
        {
            public TokenExpiredException(string message) : base(message) { }
        }

        async Task<JsonDocument> Send(string path, Action<Utf8JsonWriter> body, string what, bool withToken)
        {
            var buffer = new MemoryStream();
            using (var w = new Utf8JsonWriter(buffer))
            {
                w.WriteStartObject();
                body(w);
                w.WriteEndObject();
            }
            using (var request = new HttpRequestMessage(HttpMethod.Post, path.TrimStart('/')))
            {
                request.Content = new ByteArrayContent(buffer.GetBuffer(), 0, (int)buffer.Length);
                request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
                string token = _token;
                if (withToken && token != null) request.Headers.TryAddWithoutValidation("Authorization", token);
                HttpResponseMessage response;
                try { response = await _http.SendAsync(request, HttpCompletionOption.ResponseContentRead).ConfigureAwait(false); }
                catch (HttpRequestException e) when (_tlsProblem != null)
                {
                    throw new NbCertificateException(Location, _tlsProblem, e);
                }
                catch (HttpRequestException e)
                {
                    throw new NbStoreException($"Cannot reach the etcd NB database at {Location}: {Innermost(e)} Check that etcd runs there and the address is right.", e);
                }
                catch (TaskCanceledException e)
                {
                    throw new NbStoreException($"The etcd NB database at {Location} did not answer within {RequestTimeout.TotalSeconds:0} s ({path}).", e);
                }
                using (response)
                {
                    byte[] content = await response.Content.ReadAsByteArrayAsync().ConfigureAwait(false);
                    if (response.IsSuccessStatusCode)
                    {
                        try { return JsonDocument.Parse(content); }
                        catch (JsonException e)
                        {
                            throw new NbStoreException($"Could not {what} the etcd NB database at {Location}: its gateway answered {path} with something that is not JSON ({e.Message}).", e);
                        }
                    }
                    // A gateway or proxy may echo the request, sign-in password and all.
                    string message = NbDatabaseUri.Scrub(GatewayMessage(content), _password);
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
                            if (doc.RootElement.TryGetProperty(name, out var m) && m.ValueKind == JsonValueKind.String && m.GetString().Length > 0)
                                return m.GetString();
            }
            catch (JsonException) { }
            string text = Encoding.UTF8.GetString(content, 0, Math.Min(content.Length, 200)).Trim();
            return text.Split('\n')[0].Trim();
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
}
