using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Management.Automation;
using DragonflowUpgrade.Engine.Errors;
using DragonflowUpgrade.Remote;

namespace DragonflowUpgrade.PowerShell.Cmdlets
{
    /// <summary>The nodes of an inventory file (.psd1 or .json), optionally by role and name.</summary>
    [Cmdlet(VerbsCommon.Get, "DfNode")]
    [OutputType(typeof(DfNode))]
    public sealed class GetDfNode : DfCmdlet
    {
        [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
        [Alias("FullName", "Path")]
        [ValidateNotNullOrEmpty]
        public string Inventory { get; set; } = null!; // Mandatory: bound before the cmdlet uses it.

        /// <summary>Only nodes with one of these roles (wildcards allowed).</summary>
        [Parameter]
        [ArgumentCompleter(typeof(RoleCompleter))]
        public string[]? Role { get; set; }

        /// <summary>Only nodes with one of these names (wildcards allowed).</summary>
        [Parameter(Position = 1)]
        [ArgumentCompleter(typeof(NodeNameCompleter))]
        public string[]? Name { get; set; }

        protected override void ProcessRecord()
        {
            string path = SessionState.Path.GetUnresolvedProviderPathFromPSPath(Inventory);
            if (!File.Exists(path))
                ThrowTerminatingError(Record(new DfException("InventoryNotFound", DfErrorCategory.ObjectNotFound,
                    $"The inventory {path} does not exist.", path, "Give -Inventory the path of an inventory file (.psd1 or .json).")));
            IReadOnlyList<DfNode> nodes;
            try
            {
                nodes = PsdInventory.Load(path);
            }
            catch (Exception e) when (IsReported(e))
            {
                ThrowTerminatingError(ErrorFor(e, Inventory)); // its id says what is wrong: InventoryInvalid, InventoryNameInvalid, ...
                return;
            }

            var roles = Patterns(Role);
            var names = Patterns(Name);
            var unmatched = new HashSet<string>((Name ?? new string[0]).Where(n => !WildcardPattern.ContainsWildcardCharacters(n)), StringComparer.OrdinalIgnoreCase);
            foreach (var node in nodes)
            {
                if (names != null && !names.Any(p => p.IsMatch(node.Name))) continue;
                if (roles != null && !node.Roles.Any(r => roles.Any(p => p.IsMatch(r)))) continue;
                unmatched.Remove(node.Name);
                WriteObject(node);
            }
            foreach (string missing in unmatched)
                WriteError(Record(new DfException("NodeNotFound", DfErrorCategory.ObjectNotFound,
                    $"{path} has no node named '{missing}'.", missing, "Check the name; Get-DfNode without -Name lists the inventory's nodes.")));
        }

        static List<WildcardPattern>? Patterns(string[]? values) =>
            values == null ? null : values.Select(v => new WildcardPattern(v, WildcardOptions.IgnoreCase)).ToList();
    }
}
