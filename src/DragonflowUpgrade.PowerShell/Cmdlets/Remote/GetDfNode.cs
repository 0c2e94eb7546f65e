using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Management.Automation;
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
        public string Inventory { get; set; }

        /// <summary>Only nodes with one of these roles (wildcards allowed).</summary>
        [Parameter]
        public string[] Role { get; set; }

        /// <summary>Only nodes with one of these names (wildcards allowed).</summary>
        [Parameter(Position = 1)]
        public string[] Name { get; set; }

        protected override void ProcessRecord()
        {
            string path = SessionState.Path.GetUnresolvedProviderPathFromPSPath(Inventory);
            if (!File.Exists(path))
                ThrowTerminatingError(new ErrorRecord(new FileNotFoundException($"The inventory {path} does not exist.", path), "InventoryNotFound", ErrorCategory.ObjectNotFound, Inventory));
            IReadOnlyList<DfNode> nodes = null;
            try
            {
                string extension = Path.GetExtension(path).ToLowerInvariant();
                if (extension == ".psd1") nodes = Remote.Inventory.Parse(PsdInventory.Read(path), path);
                else if (extension == ".json") nodes = Remote.Inventory.LoadJson(path);
                else throw new InventoryException(path, 0, null, "an inventory is a .psd1 or a .json file.");
            }
            catch (InventoryException e)
            {
                ThrowTerminatingError(Record(e)); // its id says what is wrong: InventoryInvalid, InventoryNameInvalid, ...
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
                WriteError(new ErrorRecord(new ItemNotFoundException($"{path} has no node named '{missing}'."), "NodeNotFound", ErrorCategory.ObjectNotFound, missing));
        }

        static List<WildcardPattern> Patterns(string[] values) =>
            values == null ? null : values.Select(v => new WildcardPattern(v, WildcardOptions.IgnoreCase)).ToList();
    }
}
