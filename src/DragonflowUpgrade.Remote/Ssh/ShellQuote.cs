namespace DragonflowUpgrade.Remote
{
    /// <summary>Quotes a value for a POSIX shell, so it reaches the command as one word, unexpanded.</summary>
    public static class ShellQuote
    {
        public static string Quote(string value) => "'" + (value ?? "").Replace("'", "'\\''") + "'";
    }
}
