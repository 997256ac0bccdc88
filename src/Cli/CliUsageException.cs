namespace NovaStor.Cli;

/// <summary>
/// An argument that parsed but cannot be used (a missing file, ranges of different lengths, an
/// inactive namespace): printed as one line, never with a stack trace.
/// </summary>
internal sealed class CliUsageException : Exception
{
    public CliUsageException()
    {
    }

    public CliUsageException(string message) : base(message)
    {
    }

    public CliUsageException(string message, Exception inner) : base(message, inner)
    {
    }
}
