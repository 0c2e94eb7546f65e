using System;
using System.Collections.Generic;
using System.Globalization;
using System.Management.Automation.Language;
using DragonflowUpgrade.Remote;

namespace DragonflowUpgrade.PowerShell.Cmdlets
{
    /// <summary>
    /// Reads a .psd1 inventory as Import-PowerShellDataFile would, without running it: the file
    /// must be one hashtable of constants (strings, numbers, $true/$false/$null, arrays,
    /// hashtables). Anything else is an error naming the file, line and field.
    /// </summary>
    static class PsdInventory
    {
        /// <summary>The nodes of an inventory file, .psd1 or .json.</summary>
        public static IReadOnlyList<DfNode> Load(string path) => Inventory.Parse(ReadAny(path), path);

        /// <summary>The NeutronDatabase table of an inventory file, or null when it has none.</summary>
        public static NeutronDatabase? FindNeutronDatabase(string path) => Inventory.FindNeutronDatabase(ReadAny(path), path);

        /// <summary>An inventory file, .psd1 or .json, as values; any other file is refused.</summary>
        public static InventoryValue ReadAny(string path)
        {
            string extension = System.IO.Path.GetExtension(path).ToLowerInvariant();
            if (extension == ".psd1") return Read(path);
            if (extension == ".json") return Inventory.ReadJson(path);
            throw new InventoryException(path, 0, null, "an inventory is a .psd1 or a .json file.");
        }

        public static InventoryValue Read(string path)
        {
            var ast = Parser.ParseFile(path, out Token[] _, out ParseError[] errors);
            if (errors.Length > 0)
                // PowerShell's message quotes the token it stopped at, which may be part of a password: its id and column say where.
                throw new InventoryException(path, errors[0].Extent.StartLineNumber, null, $"not valid PowerShell ({errors[0].ErrorId}, at column {errors[0].Extent.StartColumnNumber}).");
            var statements = ast.EndBlock?.Statements;
            var hashtable = statements != null && statements.Count == 1 && ast.ParamBlock == null && ast.BeginBlock == null && ast.ProcessBlock == null &&
                ast.DynamicParamBlock == null && ast.UsingStatements.Count == 0 && ast.ScriptRequirements == null
                ? (statements[0] as PipelineAst)?.GetPureExpression() as HashtableAst
                : null;
            if (hashtable == null)
                throw new InventoryException(path, 1, null, "an inventory .psd1 holds one hashtable, @{ Nodes = @(...) }, and nothing else.");
            return Convert(hashtable, "", path);
        }

        static InventoryValue Convert(ExpressionAst e, string field, string path)
        {
            int line = e.Extent.StartLineNumber;
            switch (e)
            {
                case HashtableAst h:
                {
                    var entries = new List<KeyValuePair<string, InventoryValue>>();
                    var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
                    foreach (var pair in h.KeyValuePairs)
                    {
                        string key = pair.Item1 is StringConstantExpressionAst s ? s.Value
                            : pair.Item1 is ConstantExpressionAst c ? (System.Convert.ToString(c.Value, CultureInfo.InvariantCulture) ?? "")
                            : throw new InventoryException(path, pair.Item1.Extent.StartLineNumber, Join(field, pair.Item1.Extent.Text), "a key must be a plain name or string.");
                        string name = Join(field, key);
                        if (!seen.Add(key)) throw new InventoryException(path, pair.Item1.Extent.StartLineNumber, name, "appears twice in the same hashtable.");
                        entries.Add(new KeyValuePair<string, InventoryValue>(key, Convert(Expression(pair.Item2, name, path), name, path)));
                    }
                    return InventoryValue.FromMap(entries, line);
                }
                case ArrayLiteralAst a:
                {
                    var items = new List<InventoryValue>();
                    for (int i = 0; i < a.Elements.Count; i++) items.Add(Convert(a.Elements[i], $"{field}[{i}]", path));
                    return InventoryValue.FromList(items, line);
                }
                case ArrayExpressionAst a:
                {
                    var items = new List<InventoryValue>();
                    foreach (var statement in a.SubExpression.Statements)
                    {
                        var x = Expression(statement, field, path);
                        var elements = x is ArrayLiteralAst inner ? (IEnumerable<ExpressionAst>)inner.Elements : new[] { x };
                        foreach (var element in elements) items.Add(Convert(element, $"{field}[{items.Count}]", path));
                    }
                    return InventoryValue.FromList(items, line);
                }
                case ParenExpressionAst p when (p.Pipeline as PipelineAst)?.GetPureExpression() is ExpressionAst inner:
                    return Convert(inner, field, path);
                case StringConstantExpressionAst s:
                    return InventoryValue.String(s.Value, line);
                case ConstantExpressionAst c:
                    return InventoryValue.Number(System.Convert.ToString(c.Value, CultureInfo.InvariantCulture) ?? "", line);
                case VariableExpressionAst v when v.VariablePath.UserPath.Equals("true", StringComparison.OrdinalIgnoreCase):
                    return InventoryValue.Boolean(true, line);
                case VariableExpressionAst v when v.VariablePath.UserPath.Equals("false", StringComparison.OrdinalIgnoreCase):
                    return InventoryValue.Boolean(false, line);
                case VariableExpressionAst v when v.VariablePath.UserPath.Equals("null", StringComparison.OrdinalIgnoreCase):
                    return InventoryValue.Null(line);
                default:
                    throw NotConstant(e, field, path);
            }
        }

        static ExpressionAst Expression(StatementAst statement, string field, string path) =>
            (statement as PipelineAst)?.GetPureExpression() ?? throw NotConstant(statement, field, path);

        static InventoryException NotConstant(Ast ast, string field, string path) =>
            new InventoryException(path, ast.Extent.StartLineNumber, field.Length == 0 ? null : field,
                $"{ast.Extent.Text} is not a constant: an inventory holds only strings, numbers, $true/$false, arrays and hashtables, and runs no commands.");

        static string Join(string field, string key) => field.Length == 0 ? key : field + "." + key;
    }
}
