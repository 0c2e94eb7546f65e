using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text.Json;
using DragonflowUpgrade.Engine.Errors;

namespace DragonflowUpgrade.Dragonflow.Configuration
{
    /// <summary>
    /// The configuration options of one Dragonflow release, as its <c>dragonflow/conf/</c> modules
    /// register them: per group, each option's type, default, deprecated names and whether it is
    /// deprecated for removal. Shipped as Options/&lt;release&gt;.json.
    /// </summary>
    public sealed class OptionManifest
    {
        static readonly ConcurrentDictionary<string, OptionManifest?> Loaded = new ConcurrentDictionary<string, OptionManifest?>(StringComparer.OrdinalIgnoreCase);

        readonly Dictionary<string, Dictionary<string, OptionSpec>> _groups;
        // (old group, old name) -> the option that took it over.
        readonly Dictionary<(string, string), OptionSpec> _deprecated = new Dictionary<(string, string), OptionSpec>();

        public OptionManifest(string release, IEnumerable<OptionSpec> options)
        {
            Release = release;
            _groups = new Dictionary<string, Dictionary<string, OptionSpec>>(StringComparer.OrdinalIgnoreCase);
            foreach (var o in options)
            {
                if (!_groups.TryGetValue(o.Group, out var g)) _groups[o.Group] = g = new Dictionary<string, OptionSpec>(StringComparer.Ordinal);
                g[o.Name] = o;
                foreach (var d in o.DeprecatedNames) _deprecated[(d.Group.ToLowerInvariant(), d.Name)] = o;
            }
        }

        public string Release { get; }

        public IEnumerable<string> Groups => _groups.Keys;

        public IEnumerable<OptionSpec> Options => _groups.Values.SelectMany(g => g.Values);

        public bool HasGroup(string group) => _groups.ContainsKey(group);

        /// <summary>The option of that group and name; null when the release has none (group names ignore case, as oslo.config's do).</summary>
        public OptionSpec? Find(string group, string name) =>
            _groups.TryGetValue(group, out var g) && g.TryGetValue(name, out var o) ? o : null;

        /// <summary>The option that a deprecated group and name now stand for; null when none.</summary>
        public OptionSpec? FindDeprecated(string group, string name) =>
            _deprecated.TryGetValue((group.ToLowerInvariant(), name), out var o) ? o : null;

        /// <summary>Whether the module ships the manifest of <paramref name="release"/>.</summary>
        public static bool Known(string? release) =>
            release != null && typeof(OptionManifest).Assembly.GetManifestResourceInfo("Options." + release.ToLowerInvariant() + ".json") != null;

        /// <summary>The shipped manifest of a Dragonflow release (pike, queens).</summary>
        public static OptionManifest Of(string? release)
        {
            var m = release == null ? null : Loaded.GetOrAdd(release, r =>
            {
                using (var s = typeof(OptionManifest).Assembly.GetManifestResourceStream("Options." + r.ToLowerInvariant() + ".json"))
                    return s == null ? null : Load(s, r.ToLowerInvariant() + ".json");
            });
            if (m == null)
            {
                Loaded.TryRemove(release ?? "", out _);
                throw new DfException("ReleaseUnknown", DfErrorCategory.InvalidArgument,
                    $"'{release}' is not a Dragonflow release whose configuration options the module knows.", release,
                    $"Use one of: {string.Join(", ", DragonflowReleases.All)}.");
            }
            return m;
        }

        /// <summary>
        /// A release's shipped manifest, or, for a value ending in .json, the manifest in that file
        /// (<paramref name="fullPath"/> turns it into a full path).
        /// </summary>
        public static OptionManifest Resolve(string releaseOrPath, Func<string, string> fullPath)
        {
            if (!releaseOrPath.EndsWith(".json", StringComparison.OrdinalIgnoreCase)) return Of(releaseOrPath);
            string path = fullPath(releaseOrPath);
            try
            {
                using (var s = File.OpenRead(path)) return Load(s, path);
            }
            catch (Exception e) when (e is IOException || e is UnauthorizedAccessException || e is JsonException || e is KeyNotFoundException || e is InvalidOperationException)
            {
                throw new DfException("OptionManifestInvalid", DfErrorCategory.InvalidData, $"The option manifest {path} cannot be read: {(e is JsonException json ? Engine.Json.NbJson.NotJson(json) + "." : e.Message)}", path,
                    "Give a file shaped like the shipped ones: { \"release\": ..., \"groups\": { \"df\": { \"option\": { \"type\": ..., \"default\": ... } } } }.");
            }
        }

        /// <summary>Reads a manifest: { release, groups: { group: { option: { type, default, deprecatedNames: [{group, name}], deprecatedForRemoval } } } }.</summary>
        public static OptionManifest Load(Stream stream, string source)
        {
            using (var doc = JsonDocument.Parse(stream))
            {
                var root = doc.RootElement;
                var options = new List<OptionSpec>();
                foreach (var group in root.GetProperty("groups").EnumerateObject())
                    foreach (var o in group.Value.EnumerateObject())
                    {
                        var v = o.Value;
                        var deprecated = v.TryGetProperty("deprecatedNames", out var d)
                            ? d.EnumerateArray().Select(x => new OptionName(Text(x, "group"), Text(x, "name"))).ToList()
                            : new List<OptionName>();
                        options.Add(new OptionSpec(group.Name, o.Name, Text(v, "type"),
                            v.TryGetProperty("default", out var def) ? DefaultText(def) : null, deprecated,
                            v.TryGetProperty("deprecatedForRemoval", out var r) && r.GetBoolean(),
                            v.TryGetProperty("deprecatedReason", out var reason) ? reason.GetString() : null));
                    }
                return new OptionManifest(Text(root, "release"), options);
            }
        }

        // A property that must hold a string: a missing one throws KeyNotFoundException, a null or other value InvalidOperationException.
        static string Text(JsonElement e, string name) =>
            e.GetProperty(name).GetString() ?? throw new InvalidOperationException($"'{name}' is null; it must be a string.");

        // A default as the option would be written in a file: lists comma-separated, booleans as oslo.config prints them.
        static string? DefaultText(JsonElement e)
        {
            switch (e.ValueKind)
            {
                case JsonValueKind.Null: return null;
                case JsonValueKind.True: return "True";
                case JsonValueKind.False: return "False";
                case JsonValueKind.String: return e.GetString();
                case JsonValueKind.Number: return e.GetRawText();
                case JsonValueKind.Array: return string.Join(",", e.EnumerateArray().Select(DefaultText));
                default: return e.GetRawText();
            }
        }
    }

    /// <summary>A group and an option name.</summary>
    public readonly struct OptionName
    {
        public OptionName(string group, string name) { Group = group; Name = name; }
        public string Group { get; }
        public string Name { get; }
        public override string ToString() => $"[{Group}] {Name}";
    }

    /// <summary>One option of a release.</summary>
    public sealed class OptionSpec
    {
        public OptionSpec(string group, string name, string type, string? defaultValue, IReadOnlyList<OptionName>? deprecatedNames,
            bool deprecatedForRemoval, string? deprecatedReason = null)
        {
            Group = group;
            Name = name;
            Type = type;
            Default = defaultValue;
            DeprecatedNames = deprecatedNames ?? new OptionName[0];
            DeprecatedForRemoval = deprecatedForRemoval;
            DeprecatedReason = deprecatedReason;
        }

        public string Group { get; }
        public string Name { get; }
        /// <summary>string, int, bool, list, float, port, ipaddress, ...</summary>
        public string Type { get; }
        /// <summary>The default as a file would spell it (lists comma-separated); null when the option has none.</summary>
        public string? Default { get; }
        /// <summary>The names the option was read under before (oslo.config's deprecated_name, deprecated_group, deprecated_opts).</summary>
        public IReadOnlyList<OptionName> DeprecatedNames { get; }
        public bool DeprecatedForRemoval { get; }
        public string? DeprecatedReason { get; }

        public override string ToString() => $"[{Group}] {Name}";
    }
}
