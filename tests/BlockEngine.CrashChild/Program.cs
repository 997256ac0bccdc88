using NovaStor.BlockEngine.Volumes;

// Changes volumes in a loop until it is killed (SIGKILL from the crash test). Usage: DIRECTORY SEED.
// Prints "ready" once the catalog is open, so the test kills it only while it is changing things.
// Half the volumes it creates are striped over both drives, so a kill also lands between member files.
if (args.Length != 2)
{
    Console.Error.WriteLine("usage: NovaStor.BlockEngine.CrashChild DIRECTORY SEED");
    return 2;
}

string root = args[0];
var random = new Random(int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture));
var manager = VolumeManager.Open(Path.Combine(root, "d0"), [("d0", Path.Combine(root, "d0")), ("d1", Path.Combine(root, "d1"))]);
Console.WriteLine("ready");
Console.Out.Flush();
while (true)
{
    var volumes = manager.List();
    int choice = random.Next(3);
    if (choice == 0 || volumes.Count == 0)
    {
        // A name already taken would throw; this loop must only ever stop by being killed.
        string name = $"v{random.Next(1_000_000)}";
        if (manager.Find(name) is null)
        {
            manager.Create(name, 512L * random.Next(1, 1 << 16), 512, stripeWidth: random.Next(1, 3));
        }
    }
    else if (choice == 1)
    {
        manager.Resize(volumes[random.Next(volumes.Count)].Name, 512L * random.Next(1, 1 << 16));
    }
    else
    {
        manager.Delete(volumes[random.Next(volumes.Count)].Name);
    }
}
