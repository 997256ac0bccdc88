namespace NovaStor.Cli;

/// <summary>
/// Where a command writes, and whether its standard output is a terminal (perf rewrites one
/// progress line with '\r' only then; a pipe or a file gets one line per second).
/// </summary>
internal sealed record CliContext(TextWriter Out, TextWriter Error, bool IsTerminal);
