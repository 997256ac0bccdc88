namespace NovaStor.Fuzz;

/// <summary>
/// Runs fuzz cases once each, without AFL, and says what each did: for reproducing a crash or a
/// hang that <c>scripts/fuzz.sh</c> reported (<c>scripts/fuzz.sh --replay PATH</c>), with the
/// uninstrumented build and the whole exception.
/// </summary>
internal static class Replay
{
    public static int Run(string target, IEnumerable<string> paths)
    {
        var files = paths.SelectMany<string, string>(path => Directory.Exists(path)
            ? Directory.GetFiles(path).Where(f => !Path.GetFileName(f).StartsWith('.') && !f.EndsWith(".txt", StringComparison.Ordinal)).Order(StringComparer.Ordinal)
            : [path]).ToList();
        using var queue = target == "queue" ? new QueueCase() : null;
        int findings = 0;
        foreach (var file in files)
        {
            var input = File.ReadAllBytes(file);
            try
            {
                if (queue is null)
                {
                    // Under AFL the framer has afl-fuzz's timeout; here, the same bound as a queue case.
                    try
                    {
                        Task.Run(() => FramerCase.Run(input)).WaitAsync(QueueCase.Limit).GetAwaiter().GetResult();
                    }
                    catch (TimeoutException)
                    {
                        throw new CaseHungException(QueueCase.Limit, "framing");
                    }
                }
                else
                {
                    queue.Run(input, probe: true);
                }

                Console.WriteLine($"ok       {file}");
            }
            catch (CaseHungException hung)
            {
                findings++;
                Console.WriteLine($"HANG     {file}: {hung.Message}");
            }
            catch (Exception ex)
            {
                findings++;
                Console.WriteLine($"FINDING  {file}:{Environment.NewLine}{ex}");
            }
        }

        Console.WriteLine($"{files.Count} case(s), {findings} finding(s)");
        return findings == 0 ? 0 : 1;
    }
}
