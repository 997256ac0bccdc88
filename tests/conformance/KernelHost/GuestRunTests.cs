using Xunit;

namespace NovaStor.Conformance.KernelHost;

/// <summary>How a guest's kernel log is judged (no guest needed).</summary>
public sealed class GuestRunTests
{
    private static GuestRun Run(params string[] kernelLines) =>
        new(0, false, "NOVASTOR-DMESG-BEGIN\n" + string.Join('\n', kernelLines) + "\nNOVASTOR-DMESG-END\nNOVASTOR-SCENARIO-EXIT=0\n");

    [Fact]
    public void A_reset_the_scenario_announced_is_no_error_but_a_second_one_is()
    {
        var run = Run(
            "[    9.80] " + GuestRun.ExpectMarker + "resetting controller",
            "[    9.82] nvme nvme1: resetting controller",
            "[    9.86] nvme nvme1: creating 2 I/O queues.",
            "[   12.00] nvme nvme1: resetting controller");

        Assert.Equal(["[   12.00] nvme nvme1: resetting controller"], run.KernelIoErrors);
        Assert.Equal(["[   12.00] nvme nvme1: resetting controller"], run.NvmeKernelWarnings);
    }

    [Fact]
    public void Without_an_announcement_a_reset_is_an_error()
    {
        var run = Run("[    9.82] nvme nvme1: resetting controller");

        Assert.Single(run.KernelIoErrors);
        Assert.Single(run.NvmeKernelWarnings);
    }
}
