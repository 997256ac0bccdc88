using NovaStor.Csi.Hosting;

// novastor-csi: the CSI driver. Configuration: Csi:* (appsettings.json, Csi__* environment
// variables, --Csi:Key=value arguments); see README.md.
try
{
    await using var app = CsiHost.Build(args);
    await app.RunAsync();
    return 0;
}
catch (InvalidOperationException e)
{
    Console.Error.WriteLine($"novastor-csi: {e.Message}");
    return 2;
}
