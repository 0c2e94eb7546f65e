using System;
using System.Management.Automation;
using Microsoft.Extensions.Logging;

namespace DragonflowUpgrade.PowerShell
{
    /// <summary>
    /// Routes the libraries' logging to the cmdlet's streams: Trace, Debug and Information to
    /// Verbose, Warning and above to Warning. Call only on the pipeline thread.
    /// </summary>
    /// <remarks>
    /// Nothing goes to the Debug stream on purpose: with -Debug, Windows PowerShell (and pwsh run
    /// without a console) asks the user to confirm every debug record, which stops a runbook.
    /// </remarks>
    public sealed class CmdletLogger : ILogger
    {
        readonly Cmdlet _cmdlet;

        public CmdletLogger(Cmdlet cmdlet) { _cmdlet = cmdlet; }

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            string message = formatter(state, exception);
            switch (logLevel)
            {
                case LogLevel.Trace:
                case LogLevel.Debug:
                case LogLevel.Information:
                    _cmdlet.WriteVerbose(message);
                    break;
                default:
                    _cmdlet.WriteWarning(message);
                    break;
            }
        }
    }
}
