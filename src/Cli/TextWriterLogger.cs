using Microsoft.Extensions.Logging;

namespace NovaStor.Cli;

/// <summary>Warnings and errors of the library code a command runs (the ublk server), as lines on standard error.</summary>
internal sealed class TextWriterLogger(TextWriter writer, string command) : ILogger
{
    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (IsEnabled(logLevel))
        {
            lock (writer)
            {
                writer.WriteLine($"{command}: {formatter(state, exception)}");
            }
        }
    }
}
