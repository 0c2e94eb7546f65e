using System;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Text;
using System.Text.Json;
using DragonflowUpgrade.Engine.Store;

namespace DragonflowUpgrade.Engine.Safety
{
    /// <summary>Who holds an upgrade lock: host, process, user, what for, since when and until when.</summary>
    public sealed class UpgradeLockInfo
    {
        public string Host { get; private set; } = "";
        public int ProcessId { get; private set; }
        /// <summary>Null when the lock does not say.</summary>
        public string? User { get; private set; }
        public string Purpose { get; private set; } = "";
        public DateTimeOffset StartedAt { get; private set; }
        public DateTimeOffset ExpiresAt { get; private set; }
        /// <summary>Random; tells this holder from a later one of the same process.</summary>
        public string Token { get; private set; } = "";
        /// <summary>The id of the whole upgrade that holds the lock, null for any other holder: once its process is gone, only a resume or an undo of that upgrade takes the lock over.</summary>
        public string? Upgrade { get; private set; }

        public bool IsLocal => string.Equals(Host, Environment.MachineName, StringComparison.OrdinalIgnoreCase);
        public bool IsExpired => DateTimeOffset.UtcNow >= ExpiresAt;

        /// <summary>The owner is provably gone: the lock expired, or its process no longer runs on this host.</summary>
        public bool OwnerGone => IsExpired || (IsLocal && !LocalProcess.Runs(ProcessId, StartedAt));

        /// <summary>The owner is a process of this host that still runs.</summary>
        public bool OwnerAlive => IsLocal && !IsExpired && LocalProcess.Runs(ProcessId, StartedAt);

        internal static UpgradeLockInfo New(string purpose, TimeSpan ttl, string? upgrade = null)
        {
            var now = DateTimeOffset.UtcNow;
            return new UpgradeLockInfo
            {
                Host = Environment.MachineName,
                ProcessId = Process.GetCurrentProcess().Id,
                User = Environment.UserName,
                Purpose = purpose,
                StartedAt = now,
                ExpiresAt = now + ttl,
                Token = Guid.NewGuid().ToString("N"),
                Upgrade = upgrade,
            };
        }

        /// <summary>This holder, expiring no earlier than <paramref name="ttl"/> from now (a later expiry is kept).</summary>
        internal UpgradeLockInfo ExtendedAtLeast(TimeSpan ttl)
        {
            var copy = (UpgradeLockInfo)MemberwiseClone();
            var until = DateTimeOffset.UtcNow + ttl;
            if (until > copy.ExpiresAt) copy.ExpiresAt = until;
            return copy;
        }

        internal UpgradeLockInfo ForUpgrade(string? upgrade)
        {
            var copy = (UpgradeLockInfo)MemberwiseClone();
            copy.Upgrade = upgrade;
            return copy;
        }

        internal UpgradeLockInfo Extended(TimeSpan ttl)
        {
            var copy = (UpgradeLockInfo)MemberwiseClone();
            copy.ExpiresAt = DateTimeOffset.UtcNow + ttl;
            return copy;
        }

        internal string ToJson()
        {
            var buffer = new MemoryStream();
            using (var w = new Utf8JsonWriter(buffer))
            {
                w.WriteStartObject();
                w.WriteString("host", Host);
                w.WriteNumber("pid", ProcessId);
                w.WriteString("user", User);
                w.WriteString("purpose", Purpose);
                w.WriteString("started_at", Format(StartedAt));
                w.WriteString("expires_at", Format(ExpiresAt));
                w.WriteString("token", Token);
                if (Upgrade != null) w.WriteString("upgrade", Upgrade);
                w.WriteEndObject();
            }
            return Encoding.UTF8.GetString(buffer.ToArray());
        }

        // A lock that is not a JSON object names no owner: it reads as held for good by an unknown host, so that every
        // run is refused naming what it is, and Unlock-DfNbDatabase -Force breaks it (its text is its token).
        internal static UpgradeLockInfo Parse(string json, string where)
        {
            JsonDocument doc;
            try { doc = JsonDocument.Parse(json); }
            catch (JsonException e) { return Unreadable(json, $"a lock at {where} that is {Json.NbJson.NotJson(e)}"); }
            using (doc)
            {
                var r = doc.RootElement;
                if (r.ValueKind != JsonValueKind.Object) return Unreadable(json, $"a lock at {where} that is not a JSON object");
                return new UpgradeLockInfo
                {
                    Host = Text(r, "host") ?? "an unknown host",
                    ProcessId = r.TryGetProperty("pid", out var p) && p.ValueKind == JsonValueKind.Number && p.TryGetInt32(out int pid) ? pid : 0,
                    User = Text(r, "user"),
                    Purpose = Text(r, "purpose") ?? "an unknown purpose",
                    StartedAt = ParseTime(Text(r, "started_at")) ?? DateTimeOffset.MinValue,
                    ExpiresAt = ParseTime(Text(r, "expires_at")) ?? DateTimeOffset.MaxValue,
                    Token = Text(r, "token") ?? json,
                    Upgrade = Text(r, "upgrade"),
                };
            }
        }

        static UpgradeLockInfo Unreadable(string json, string what) => new UpgradeLockInfo
        {
            Host = "an unknown host",
            Purpose = what,
            StartedAt = DateTimeOffset.MinValue,
            ExpiresAt = DateTimeOffset.MaxValue,
            Token = json,
        };

        static string? Text(JsonElement r, string name) =>
            r.ValueKind == JsonValueKind.Object && r.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

        internal static string Format(DateTimeOffset t) =>
            t.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

        internal static DateTimeOffset? ParseTime(string? s) =>
            s != null && DateTimeOffset.TryParse(s, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var t) ? t : (DateTimeOffset?)null;

        public override string ToString() =>
            $"{Purpose} (process {ProcessId} of {User ?? "an unknown user"} on {Host}, since {Format(StartedAt)}, until {Format(ExpiresAt)})";
    }
}
