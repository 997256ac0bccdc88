using System.CommandLine;
using System.Text.Json.Nodes;
using Grpc.Core;
using Grpc.Net.Client;
using NovaStor.Cli.Output;

namespace NovaStor.Cli;

/// <summary>One control-plane command's run: the channel, the call options (deadline, Ctrl-C) and where its output goes.</summary>
internal sealed class ControlPlaneCall(CliContext context, ParseResult result, GrpcChannel channel, CallOptions options, bool json)
{
    public ParseResult Result { get; } = result;
    public GrpcChannel Channel { get; } = channel;
    public CallOptions Options { get; } = options;
    public bool Json { get; } = json;

    /// <summary>The text (tables, key: value lines) by default; the JSON document with -o json.</summary>
    public Task WriteAsync(Func<string> text, Func<JsonNode> document) =>
        context.Out.WriteAsync(Json ? JsonText.Write(document()) + "\n" : text());
}

/// <summary>
/// Builds the control-plane subcommands (volume, subsystem, host, listener, ana, controller,
/// stats): each takes the connection options and -o, opens one channel, makes its calls with a
/// deadline and turns failures into one line on standard error ("novastor: ...") and an exit code.
/// </summary>
internal static class ControlPlaneSession
{
    public const string Prefix = "novastor";

    /// <summary>A command named <paramref name="name"/> with <paramref name="symbols"/> (arguments, options), the connection options and -o.</summary>
    public static Command Command(CliContext context, string name, string description, IEnumerable<Symbol> symbols, Func<ControlPlaneCall, Task<int>> work)
    {
        var connection = new ControlPlaneConnection();
        var format = OutputFormat.Create();
        var command = new Command(name, description);
        foreach (var symbol in symbols)
        {
            switch (symbol)
            {
                case Argument argument:
                    command.Add(argument);
                    break;
                case Option option:
                    command.Add(option);
                    break;
                default:
                    throw new ArgumentException($"{symbol.Name} is neither an argument nor an option", nameof(symbols));
            }
        }

        connection.AddTo(command);
        command.Add(format);
        command.SetAction((result, token) => RunAsync(context, connection, result, OutputFormat.IsJson(result, format), work, token));
        return command;
    }

    public static async Task<int> RunAsync(CliContext context, ControlPlaneConnection connection, ParseResult result, bool json, Func<ControlPlaneCall, Task<int>> work, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(result);
        ArgumentNullException.ThrowIfNull(work);
        Uri? address = null;
        try
        {
            var options = connection.Resolve(result);
            address = options.Address;
            using var channel = ControlPlaneConnection.Open(options);
            return await work(new ControlPlaneCall(context, result, channel, connection.CallOptions(result, cancellationToken), json)).ConfigureAwait(false);
        }
        catch (RpcException ex) when (ex.StatusCode == StatusCode.Cancelled && cancellationToken.IsCancellationRequested)
        {
            return await FailAsync(context, "interrupted", ExitCodes.Interrupted).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return await FailAsync(context, "interrupted", ExitCodes.Interrupted).ConfigureAwait(false);
        }
        catch (RpcException ex) when (address is not null)
        {
            var (code, message) = ControlPlaneFailures.Describe(ex, address, result.GetValue(connection.Timeout));
            return await FailAsync(context, message, code).ConfigureAwait(false);
        }
        catch (ControlPlaneCredentialsException ex)
        {
            return await FailAsync(context, ex.Message, ExitCodes.Unreachable).ConfigureAwait(false);
        }
        catch (CliUsageException ex)
        {
            return await FailAsync(context, ex.Message, ExitCodes.NvmeStatus).ConfigureAwait(false);
        }
    }

    private static async Task<int> FailAsync(CliContext context, string message, int code)
    {
        await context.Error.WriteLineAsync($"{Prefix}: {message}").ConfigureAwait(false);
        return code;
    }
}
