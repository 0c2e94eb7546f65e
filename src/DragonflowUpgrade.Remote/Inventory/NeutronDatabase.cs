using System;
using System.Collections.Generic;
using System.IO;
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
        /// <summary>What the upgrade's readiness runs to see that the database answers: it reads nothing and writes nothing.</summary>
        public const string DefaultCheck = "mysql -e 'SELECT 1' neutron";
        /// <summary>What the upgrade's readiness runs to size Neutron's dump: the database's data and indexes, in bytes.</summary>
        public const string DefaultSize = "mysql -N -e \"SELECT COALESCE(SUM(data_length + index_length), 0) FROM information_schema.tables WHERE table_schema = 'neutron'\"";

        internal NeutronDatabase(DfNode node, NeutronCommand backup, NeutronCommand restore, NeutronCommand migrate, string inventory, NeutronCommand? check = null, NeutronCommand? size = null)
        {
            Size = size ?? new NeutronCommand(DefaultSize);
            Check = check ?? new NeutronCommand(DefaultCheck);
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
        /// <summary>Exits 0 when the database answers; changes nothing.</summary>
        public NeutronCommand Check { get; }
        /// <summary>Prints the database's size in bytes (one number); changes nothing.</summary>
        public NeutronCommand Size { get; }
        public string Inventory { get; }
    }

    /// <summary>
    /// A command for the controller, its {node} and {chassis} filled in. Given a password, the
    /// command runs with it exported as MYSQL_PWD (which mysql and mysqldump read), and {password}
    /// stands for that variable; it may stand only as the command's leading MYSQL_PWD={password}
    /// (<see cref="PasswordProblem"/>). The password travels as the first line of the command's standard
    /// input (<see cref="Input"/>), never in a command line, where any user of the node could read it.
    /// </summary>
    public sealed class NeutronCommand
    {
        const string PasswordPlaceholder = "{password}";
        // Reads the password line before the command's own input, so no process's arguments hold it.
        const string ReadPassword = "IFS= read -r MYSQL_PWD || exit 1; export MYSQL_PWD\n";

        internal NeutronCommand(string text) { Text = text; }

        /// <summary>The command as the inventory gives it, {password} unfilled.</summary>
        public string Text { get; }

        public bool NeedsPassword => Text.Contains(PasswordPlaceholder);

        // The one place {password} may stand: an assignment in front of the command, which puts it
        // into that command's environment (as the export does already), never into its arguments.
        const string PasswordAssignment = "MYSQL_PWD=" + PasswordPlaceholder;

        /// <summary>
        /// Why the command's {password} could reach a process's arguments (readable by any user of
        /// the node with ps), as a sentence; null when the command holds none, or holds it only as its
        /// leading MYSQL_PWD={password} assignment.
        /// </summary>
        internal static string? PasswordProblem(string text)
        {
            int first = text.IndexOf(PasswordPlaceholder, StringComparison.Ordinal);
            if (first < 0) return null;
            bool leading = text.StartsWith(PasswordAssignment, StringComparison.Ordinal)
                && text.Length > PasswordAssignment.Length && (text[PasswordAssignment.Length] == ' ' || text[PasswordAssignment.Length] == '\t');
            if (leading && text.IndexOf(PasswordPlaceholder, first + 1, StringComparison.Ordinal) < 0) return null;
            return "{password} may stand only at the start, as MYSQL_PWD={password} followed by the command: anywhere else (as in mysqldump -p{password}) " +
                "it could put the password into a process's arguments, which any user of the node can read with ps. Every command gets the password " +
                "exported as MYSQL_PWD already, which mysql and mysqldump read: leave {password} out, or write MYSQL_PWD={password} mysqldump ...";
        }

        /// <summary>What messages show: the command with *** for the password.</summary>
        public string Shown => Text.Replace(PasswordPlaceholder, "***");

        /// <summary>
        /// The command line to run. With a password, it first reads that from its standard input
        /// into MYSQL_PWD, and {password} becomes "$MYSQL_PWD". Throws when the command needs a
        /// password and none is given, or the password has a line break.
        /// </summary>
        public string For(string? password)
        {
            if (password == null)
            {
                if (!NeedsPassword) return Text;
                throw new NeutronDatabaseException(NeutronDatabaseException.PasswordMissingId, Engine.Errors.DfErrorCategory.InvalidArgument,
                    $"The command holds {{password}} and no password was given: {Shown}", null,
                    "Give the database password with -DatabaseCredential (-NeutronCredential for the whole-upgrade cmdlets).");
            }
            if (password.IndexOf('\n') >= 0 || password.IndexOf('\r') >= 0)
                throw new NeutronDatabaseException(NeutronDatabaseException.PasswordInvalidId, Engine.Errors.DfErrorCategory.InvalidArgument,
                    $"The database password holds a line break, which cannot be passed to: {Shown}", null,
                    "Give the database password with -DatabaseCredential, without line breaks.");
            return ReadPassword + Text.Replace(PasswordPlaceholder, "\"$MYSQL_PWD\"");
        }

        /// <summary>
        /// The standard input for the line <see cref="For"/> returns: the password line (when a
        /// password is given), then <paramref name="rest"/> (null: nothing more).
        /// </summary>
        public static Stream? Input(string? password, Stream? rest)
        {
            if (password == null) return rest;
            var line = new MemoryStream(new UTF8Encoding(false).GetBytes(password + "\n"), false);
            return rest == null ? (Stream)line : new ConcatStream(line, rest);
        }

        public override string ToString() => Shown;

        /// <summary>Reads one stream to its end, then the other; disposes both.</summary>
        sealed class ConcatStream : Stream
        {
            readonly Stream _first, _second;
            bool _firstDone;
            public ConcatStream(Stream first, Stream second) { _first = first; _second = second; }
            public override bool CanRead => true;
            public override bool CanSeek => false;
            public override bool CanWrite => false;
            public override long Length => throw new NotSupportedException();
            public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
            public override void Flush() { }
            public override int Read(byte[] buffer, int offset, int count)
            {
                if (!_firstDone)
                {
                    int n = _first.Read(buffer, offset, count);
                    if (n > 0) return n;
                    _firstDone = true;
                }
                return _second.Read(buffer, offset, count);
            }
            public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
            public override void SetLength(long value) => throw new NotSupportedException();
            public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
            protected override void Dispose(bool disposing)
            {
                if (disposing) { _first.Dispose(); _second.Dispose(); }
                base.Dispose(disposing);
            }
        }
    }

    public static partial class Inventory
    {
        const string NeutronDatabaseField = "NeutronDatabase";
        static readonly string[] NeutronPlaceholders = { "node", "chassis", "password" };

        /// <summary>
        /// Reads the inventory's NeutronDatabase table: Node (the controller that runs the
        /// commands; by default the first node with the controller role), Backup, Restore and
        /// Migrate (the defaults are <see cref="NeutronDatabase.DefaultBackup"/> and its
        /// siblings), Check (what the upgrade's readiness runs to see that the database answers) and
        /// Size (what it runs to size the dump: it prints the database's size in bytes).
        /// A command may hold {node}, {chassis}, and {password} only as its leading MYSQL_PWD={password}.
        /// </summary>
        public static NeutronDatabase ParseNeutronDatabase(InventoryValue root, string file)
        {
            var nodes = Parse(root, file);
            var top = new Fields(root, "", file, "Defaults", "Roles", "Services", "Nodes", NeutronDatabaseField);
            var fields = top.Map(NeutronDatabaseField, "Node", "Backup", "Restore", "Migrate", "Check", "Size");
            string? name = fields.String("Node");
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
                string? problem = template.Problem, id = template.ProblemId;
                if (problem == null && NeutronCommand.PasswordProblem(template.Text) is string passwordProblem)
                    (id, problem) = (CommandTemplate.UnsafeId, passwordProblem);
                if (problem != null)   // and so is its id
                    throw new InventoryException(file, template.Line, template.Field,
                        $"{problem}. Node '{node.Name}' would run it: {InventoryException.Show(template.Text, 200)}",
                        id!, "Use only {node}, {chassis} and {password}, as in: MYSQL_PWD={password} mysqldump --single-transaction --databases neutron.");
                return new NeutronCommand(template.Fill(new Dictionary<string, string> { ["node"] = node.Name, ["chassis"] = node.Chassis }));
            }
            return new NeutronDatabase(node, Read("Backup", NeutronDatabase.DefaultBackup), Read("Restore", NeutronDatabase.DefaultRestore),
                Read("Migrate", NeutronDatabase.DefaultMigrate), file, Read("Check", NeutronDatabase.DefaultCheck), Read("Size", NeutronDatabase.DefaultSize));
        }

        /// <summary>The inventory's NeutronDatabase table as <see cref="ParseNeutronDatabase"/> reads it, or null when the inventory has none (its cloud's upgrade then leaves Neutron's database alone).</summary>
        public static NeutronDatabase? FindNeutronDatabase(InventoryValue root, string file) =>
            root.Kind == InventoryValueKind.Map && root.Map != null && root.Map.Any(e => string.Equals(e.Key, NeutronDatabaseField, StringComparison.OrdinalIgnoreCase) && e.Value.Kind != InventoryValueKind.Null)
                ? ParseNeutronDatabase(root, file) : null;
    }
}
