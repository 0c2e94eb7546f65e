using System;
using System.Collections.Generic;
using System.Linq;

namespace DragonflowUpgrade.Dragonflow.Configuration
{
    public enum FindingKind
    {
        /// <summary>An option neither release knows (a typo, or an option of another release).</summary>
        Unknown,
        /// <summary>An option of the source release that the target release no longer has.</summary>
        Removed,
        /// <summary>An option set under a name the target release reads under another name or group.</summary>
        Renamed,
        /// <summary>An option the target release still reads, but will drop.</summary>
        DeprecatedForRemoval,
        /// <summary>An option the file does not set whose default differs between the releases.</summary>
        DefaultChanged,
    }

    /// <summary>What a configuration file means for an upgrade: one option, on one line of one file of one node.</summary>
    public sealed class ConfigurationFinding
    {
        public ConfigurationFinding(FindingKind kind, string node, string path, string group, string option, int? line, string message,
            string? newGroup = null, string? newOption = null)
        {
            Kind = kind;
            Node = node;
            Path = path;
            Group = group;
            Option = option;
            Line = line;
            Message = message;
            NewGroup = newGroup;
            NewOption = newOption;
        }

        public FindingKind Kind { get; }
        public string Node { get; }
        public string Path { get; }
        public string Group { get; }
        public string Option { get; }
        /// <summary>The line that sets the option; null for a default the file relies on.</summary>
        public int? Line { get; }
        /// <summary>What it means and what to do.</summary>
        public string Message { get; }
        /// <summary>For a rename: the group and name the target release reads.</summary>
        public string? NewGroup { get; }
        public string? NewOption { get; }

        public override string ToString() => $"{Node}: {Path}{(Line == null ? "" : " line " + Line)}: [{Group}] {Option}: {Kind}";
    }

    /// <summary>Compares a configuration file with the options of the release it runs and the release it goes to.</summary>
    public static class ConfigurationCheck
    {
        /// <summary>
        /// The findings for one file, in file order, then the defaults it relies on. Only
        /// Dragonflow's groups are judged (those the releases know, and any other whose name
        /// starts with "df"): dragonflow.ini may also hold other projects' groups, such as [DEFAULT].
        /// </summary>
        public static IReadOnlyList<ConfigurationFinding> Compare(IniFile file, OptionManifest source, OptionManifest target, string node, string path)
        {
            var findings = new List<ConfigurationFinding>();
            var set = new HashSet<(string, string)>();
            string from = source.Release, to = target.Release;
            foreach (var o in file.Options)
            {
                set.Add((o.Group.ToLowerInvariant(), o.Name));
                ConfigurationFinding Finding(FindingKind kind, string message, OptionSpec? now = null) =>
                    new ConfigurationFinding(kind, node, path, o.Group, o.Name, o.Line, message, now?.Group, now?.Name);

                var inTarget = target.Find(o.Group, o.Name);
                if (inTarget != null)
                {
                    if (inTarget.DeprecatedForRemoval)
                        findings.Add(Finding(FindingKind.DeprecatedForRemoval,
                            $"[{o.Group}] {o.Name} is deprecated for removal in {to}: it still works, but a later release drops it." +
                            (inTarget.DeprecatedReason == null ? "" : " " + inTarget.DeprecatedReason.TrimEnd('.') + ".") +
                            " Plan to stop setting it."));
                    continue;
                }
                var renamed = target.FindDeprecated(o.Group, o.Name);
                if (renamed != null)
                {
                    bool both = file.Options.Any(x => string.Equals(x.Group, renamed.Group, StringComparison.OrdinalIgnoreCase) && x.Name == renamed.Name);
                    int? later = LastLineSetting(file, o.Group, o.Name);
                    findings.Add(Finding(FindingKind.Renamed, both
                        ? $"{to} reads [{o.Group}] {o.Name} as [{renamed.Group}] {renamed.Name}, which the file also sets: that one wins. Remove line {o.Line}."
                        : later != o.Line
                        ? $"[{o.Group}] {o.Name} is set again on line {later}, which is the one read: this line has no effect, and Update-DfConfiguration leaves it as it is. Remove line {o.Line}."
                        : $"{to} reads [{o.Group}] {o.Name} as [{renamed.Group}] {renamed.Name}. Update-DfConfiguration renames it.", renamed));
                    continue;
                }
                if (source.Find(o.Group, o.Name) != null || source.FindDeprecated(o.Group, o.Name) != null)
                {
                    findings.Add(Finding(FindingKind.Removed,
                        $"[{o.Group}] {o.Name} is an option of {from} that {to} no longer has: it will be ignored. Remove it, after checking what replaces it in the {to} release notes."));
                    continue;
                }
                if (!source.HasGroup(o.Group) && !target.HasGroup(o.Group) && !o.Group.StartsWith("df", StringComparison.OrdinalIgnoreCase))
                    continue;
                string group = source.HasGroup(o.Group) || target.HasGroup(o.Group)
                    ? $"[{o.Group}] has no option '{o.Name}' in {from} or {to}"
                    : $"[{o.Group}] is no group of Dragonflow {from} or {to}";
                findings.Add(Finding(FindingKind.Unknown, $"{group}: the line has no effect. Correct the spelling or remove it."));
            }

            foreach (var before in source.Options)
            {
                var after = target.Find(before.Group, before.Name);
                if (after == null || after.Default == before.Default) continue;
                if (set.Contains((before.Group.ToLowerInvariant(), before.Name)) || after.DeprecatedNames.Any(d => set.Contains((d.Group.ToLowerInvariant(), d.Name)))) continue;
                findings.Add(new ConfigurationFinding(FindingKind.DefaultChanged, node, path, before.Group, before.Name, null,
                    $"the file relies on the default of [{before.Group}] {before.Name}, which changes from '{before.Default}' in {from} to '{after.Default}' in {to}. " +
                    $"To keep the old behaviour, set '{before.Name} = {before.Default}' under [{before.Group}]."));
            }
            return findings;
        }

        /// <summary>
        /// Applies the renames among <paramref name="findings"/> to <paramref name="file"/>: only
        /// Renamed findings, and not where the file already sets the new name. An option set on several
        /// lines is read (as oslo.config reads it) from the last: that line is renamed, the earlier ones
        /// are left as they are (their findings say so). Returns those applied.
        /// </summary>
        public static IReadOnlyList<ConfigurationFinding> ApplyRenames(IniFile file, IEnumerable<ConfigurationFinding> findings)
        {
            var applied = new List<ConfigurationFinding>();
            var renames = findings.Where(f => f.Kind == FindingKind.Renamed && f.Line == LastLineSetting(file, f.Group, f.Option)).ToList();
            foreach (var f in renames)
            {
                if (f.NewGroup == null || f.NewOption == null) continue; // Compare names both in every rename
                var options = file.Options;
                if (options.Any(x => string.Equals(x.Group, f.NewGroup, StringComparison.OrdinalIgnoreCase) && x.Name == f.NewOption)) continue;
                // Found again by name: a line moved into an earlier group shifts the lines after it.
                var old = options.LastOrDefault(x => string.Equals(x.Group, f.Group, StringComparison.OrdinalIgnoreCase) && x.Name == f.Option);
                if (old == null) continue;
                file.Rename(old.Line, f.NewGroup, f.NewOption);
                applied.Add(f);
            }
            return applied;
        }

        static int? LastLineSetting(IniFile file, string group, string option) =>
            file.Options.LastOrDefault(x => string.Equals(x.Group, group, StringComparison.OrdinalIgnoreCase) && x.Name == option)?.Line;
    }
}
