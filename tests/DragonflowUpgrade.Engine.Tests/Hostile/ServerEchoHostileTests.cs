using System;
using System.Diagnostics;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using DragonflowUpgrade.Engine.Store;
using StackExchange.Redis;
using Xunit;

namespace DragonflowUpgrade.Engine.Tests.Hostile
{
    /// <summary>Servers whose error text quotes the request that carried the password: the error the user sees does not.</summary>
    public class ServerEchoHostileTests
    {
        const string Escaped = "PWSECRET%2Bx%2F1";

        static int FreePort()
        {
            var free = new TcpListener(IPAddress.Loopback, 0);
            free.Start();
            int port = ((IPEndPoint)free.LocalEndpoint).Port;
            free.Stop();
            return port;
        }

        [Fact]
        public void Redis_quoting_the_AUTH_command_is_reported_without_the_password()
        {
            int port = FreePort();
            using (var server = Process.Start(new ProcessStartInfo("redis-server",
                $"--port {port} --bind 127.0.0.1 --save \"\" --appendonly no --rename-command AUTH \"\"") { RedirectStandardOutput = true }))
            {
                try
                {
                    // Used only once it is this test's own process that answers on the port.
                    string pid = null;
                    for (int attempt = 0; attempt < 50 && pid == null; attempt++)
                    {
                        try
                        {
                            using (var mux = ConnectionMultiplexer.Connect($"127.0.0.1:{port},allowAdmin=true"))
                                pid = mux.GetServer($"127.0.0.1:{port}").Info("server").SelectMany(g => g).First(p => p.Key == "process_id").Value;
                        }
                        catch (RedisConnectionException) { Thread.Sleep(100); }
                    }
                    Assert.Equal(server.Id.ToString(), pid);

                    var e = Assert.Throws<NbStoreException>(() => NbStoreFactory.Open($"redis://u:{Escaped}@127.0.0.1:{port}/0").Dispose());
                    Assert.Contains("AUTH", e.Message);  // Redis's own text is still there, masked
                    Assert.DoesNotContain("PWSECRET", e.ToString());
                }
                finally
                {
                    if (!server.HasExited) server.Kill();
                }
            }
        }

        [Fact]
        public void An_etcd_gateway_echoing_the_sign_in_body_is_reported_without_the_password()
        {
            var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            int port = ((IPEndPoint)listener.LocalEndpoint).Port;
            var echo = Task.Run(() =>
            {
                using (var client = listener.AcceptTcpClient())
                using (var stream = client.GetStream())
                {
                    var request = new StringBuilder();
                    var buffer = new byte[4096];
                    int length = -1;
                    while (true)
                    {
                        int n = stream.Read(buffer, 0, buffer.Length);
                        if (n == 0) break;
                        request.Append(Encoding.UTF8.GetString(buffer, 0, n));
                        string text = request.ToString();
                        int end = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
                        if (end < 0) continue;
                        if (length < 0)
                        {
                            var header = text.Substring(0, end).Split("\r\n").First(h => h.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase));
                            length = int.Parse(header.Substring(header.IndexOf(':') + 1).Trim());
                        }
                        if (Encoding.UTF8.GetByteCount(text) - end - 4 >= length) break;
                    }
                    string all = request.ToString();
                    string body = all.Substring(all.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4);
                    byte[] reply = Encoding.UTF8.GetBytes("bad request: " + body);
                    byte[] head = Encoding.ASCII.GetBytes($"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: {reply.Length}\r\nConnection: close\r\n\r\n");
                    stream.Write(head, 0, head.Length);
                    stream.Write(reply, 0, reply.Length);
                    return body;
                }
            });
            try
            {
                var e = Assert.Throws<NbStoreException>(() => NbStoreFactory.Open($"etcd://u:{Escaped}@127.0.0.1:{port}").Dispose());
                Assert.True(echo.Wait(TimeSpan.FromSeconds(10)));
                Assert.Contains("PWSECRET", echo.Result);  // the listener did get it, and echoed it
                Assert.Contains("Could not sign in", e.Message);
                Assert.Contains("bad request", e.Message);
                Assert.DoesNotContain("PWSECRET", e.ToString());
            }
            finally
            {
                listener.Stop();
            }
        }
    }
}
