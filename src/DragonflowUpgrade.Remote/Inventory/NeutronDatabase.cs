#nullable disable // not yet annotated
using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;

namespace DragonflowUpgrade.Remote
{
    /// <summary>
    /// Where and how Neutron's database is backed up, restored and migrated: one controller, and
    /// the three commands it runs there (the inventory's NeutronDatabase table).
    /// </summary>
    public sealed class NeutronDatabase
    {
        // A dump that drops and re-creates the database: restoring it also removes the tables a
        // (failed) migration added, which a dump of the tables alone would leave behind.
        public const string DefaultBackup = "mysqldump --single-transaction --add-drop-database --databases neutron";
        public const string DefaultRestore = "mysql neutron";
        public const string DefaultMigrate = "neutron-db-manage upgrade heads";

        internal NeutronDatabase(DfNode node, NeutronCommand backup, NeutronCommand restore, NeutronCommand migrate, string inventory)
        {
            Node = node;
            Backup = backup;
            Restore = restore;
            Migrate = migrate;
            Inventory = inventory;
        }

        /// <summary>The controller that runs the commands.</summary>
        public DfNode Node { get; }
        /// <summary>Writes the dump to its standard output.</summary>
        public NeutronCommand Backup { get; }
        /// <summary>Reads a dump from its standard input.</summary>
        public NeutronCommand Restore { get; }
        /// <summary>Migrates Neutron's database (and its subprojects', Dragonflow's among them) to the installed code.</summary>
        public NeutronCommand Migrate { get; }
        public string Inventory { get; }
    }

    /// <summary>
    /// A command for the controller, its {node} and {chassis} filled in. It may hold {password},
    /// filled only when it runs (<see cref="For"/>); everything shown or logged shows *** there.
    /// </summary>
    public sealed class NeutronCommand
    {
        const string PasswordPlaceholder = "{password}";

        internal NeutronCommand(string text) { Text = text; }

        /// <summary>The command as the inventory gives it, {password} unfilled.</summary>
        public string Text { get; }

        public bool NeedsPassword => Text.Contains(PasswordPlaceholder);

        /// <summary>What messages show: the command with *** for the password.</summary>
        public string Shown => Text.Replace(PasswordPlaceholder, "***");

        /// <summary>
        /// The command line to run: {password} becomes the password as one shell word (the
        /// inventory admits {password} only outside quotes). Throws when the command needs a
        /// password and none is given.
        /// </summary>
        public string For(string password)
        {
            if (!NeedsPassword) return Text;
            if (password == null)
                throw new NeutronDatabaseException(NeutronDatabaseException.PasswordMissingId, Engine.Errors.DfErrorCategory.InvalidArgument,
                    $"The command holds {{password}} and no password was given: {Shown}", null,
                    "Give the database password with -DatabaseCredential.");
            return Text.Replace(PasswordPlaceholder, ShellQuote.Quote(password));
        }

        public override string ToString() => Shown;
    }

    public static partial class Inventory
    {
        const string NeutronDatabaseField = "NeutronDatabase";
        static readonly string[] NeutronPlaceholders = { "node", "chassis", "password" };

        /// <summary>
        /// Reads the inventory's NeutronDatabase table: Node (the controller that runs the
        /// commands; by default the first node with the controller role), Backup, Restore and
        /// Migrate (the defaults are <see cref="NeutronDatabase.DefaultBackup"/> and its
        /// siblings). A command may hold {node}, {chassis} and {password}.
        /// </summary>
        public static NeutronDatabase ParseNeutronDatabase(InventoryValue root, string file)
        {
            var nodes = Parse(root, file);
            var top = new Fields(root, "", file, "Defaults", "Roles", "Services", "Nodes", NeutronDatabaseField);
            var fields = top.Map(NeutronDatabaseField, "Node", "Backup", "Restore", "Migrate");
            string name = fields.String("Node");
            DfNode node;
            if (name != null)
            {
                node = nodes.FirstOrDefault(n => string.Equals(n.Name, name, StringComparison.OrdinalIgnoreCase))
                    ?? throw fields.Error("Node", $"'{InventoryException.Show(name)}' is not a node of the inventory: name one of its controllers.");
            }
            else
            {
                node = nodes.FirstOrDefault(n => n.Roles.Contains("controller", StringComparer.OrdinalIgnoreCase))
                    ?? throw top.Error(NeutronDatabaseField, "is not given and no node has the controller role: say which node runs Neutron's database commands (NeutronDatabase.Node).");
            }
            NeutronCommand Read(string field, string fallback)
            {
                var template = fields.Command(field, NeutronPlaceholders) ?? new CommandTemplate(fallback, null, 0, NeutronPlaceholders);
                string problem = template.Problem, id = template.ProblemId;
                if (problem == null && PasswordInQuotes(template.Text))
                    (id, problem) = (CommandTemplate.UnsafeId, "{password} is inside quotes, where the quoted password would end them: write it outside quotes, as in MYSQL_PWD={password} mysqldump ...");
                if (problem != null)
                    throw new InventoryException(file, template.Line, template.Field,
                        $"{problem}. Node '{node.Name}' would run it: {InventoryException.Show(template.Text, 200)}",
                        id, "Use only {node}, {chassis} and {password}, as in: MYSQL_PWD={password} mysqldump --single-transaction --databases neutron.");
                return new NeutronCommand(template.Fill(new Dictionary<string, string> { ["node"] = node.Name, ["chassis"] = node.Chassis }));
            }
            return new NeutronDatabase(node, Read("Backup", NeutronDatabase.DefaultBackup), Read("Restore", NeutronDatabase.DefaultRestore),
                Read("Migrate", NeutronDatabase.DefaultMigrate), file);
        }

        /// <summary>Whether a {password} of the command sits inside single or double quotes (as a POSIX shell reads them).</summary>
        static bool PasswordInQuotes(string text)
        {
            char quote = '\0';
            for (int i = 0; i < text.Length; i++)
            {
                char c = text[i];
                if (quote == '\0' && c == '\\') { i++; continue; }
                if (quote == '"' && c == '\\') { i++; continue; }
                if (quote == '\0' && (c == '\'' || c == '"')) { quote = c; continue; }
                if (quote != '\0' && c == quote) { quote = '\0'; continue; }
                if (quote != '\0' && string.CompareOrdinal(text, i, "{password}", 0, 10) == 0) return true;
            }
            return false;
        }
    }
}
