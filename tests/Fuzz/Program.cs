using NovaStor.Fuzz;
using SharpFuzz;

// The fuzz harness. Under afl-fuzz (scripts/fuzz.sh), with assemblies instrumented by sharpfuzz:
//   dotnet NovaStor.Fuzz.dll framer|queue        one case per input on standard input
// Without AFL:
//   dotnet NovaStor.Fuzz.dll seed DIR            writes the seed corpus and the AFL dictionary under DIR
//   dotnet NovaStor.Fuzz.dll replay TARGET PATH  runs the cases in PATH (files or folders) once each
// With the instrumented copy (artifacts/fuzz/bin), without AFL:
//   dotnet NovaStor.Fuzz.dll stability TARGET FILE RUNS   which trace map entries vary between runs of one case
return args switch
{
    ["framer"] => Fuzz(input => FramerCase.Run(input)),
    ["queue"] => FuzzQueue(),
    ["seed", var directory] => SeedCorpus.Write(directory),
    ["replay", "framer" or "queue", .. { Length: > 0 } paths] => Replay.Run(args[1], paths),
    ["stability", "framer" or "queue", var file, var runs] when int.TryParse(runs, out int count) => Stability.Run(args[1], file, count),
    _ => Usage(),
};

static int FuzzQueue()
{
    // One set of memory volumes for the whole run: each case builds its own subsystem over them.
    // Made in the first case, not before: instrumented code may only run once SharpFuzz has set up
    // the trace map. The probe (a healthy host after every case) costs a fraction of a case and
    // catches a target that an input left unable to serve.
    QueueCase? queue = null;
    return Fuzz(input => (queue ??= new QueueCase()).Run(input, probe: true));
}

static int Fuzz(Action<byte[]> run)
{
    // Out of process: a case that hangs is killed by afl-fuzz at its timeout (-t) and recorded as a
    // hang, and SharpFuzz starts a new child instead of the whole fuzzing stopping.
    Fuzzer.OutOfProcess.Run(stream =>
    {
        using var memory = new MemoryStream();
        stream.CopyTo(memory);
        try
        {
            run(memory.ToArray());
        }
        catch (CaseHungException)
        {
            // The case's own bound passed: wait for afl-fuzz's timeout so that it counts a hang, not a crash.
            Thread.Sleep(Timeout.Infinite);
        }
    });
    return 0;
}

static int Usage()
{
    Console.Error.WriteLine("""
        usage: NovaStor.Fuzz framer|queue               (under afl-fuzz; input on standard input)
               NovaStor.Fuzz seed DIR                   (writes DIR/corpus/{framer,queue} and DIR/nvme-tcp.dict)
               NovaStor.Fuzz replay framer|queue PATH... (runs each case once, prints what it found)
               NovaStor.Fuzz stability framer|queue FILE RUNS (instrumented copy: trace entries that vary)
        """);
    return 2;
}
