using NovaStor.BlockEngine.Volumes;
using NovaStor.Csi.Controller;
using Xunit;

namespace NovaStor.Csi.Tests.Controller;

/// <summary>
/// The driver decides on its own (it is a client of the control plane, not of the block engine)
/// which CSI names the storage node's catalog takes as they are. Checked here against the catalog's
/// own rule, so the two cannot drift apart: a name Kubernetes gives must always become a volume
/// the catalog accepts, and a volume ID the driver made must always read back.
/// </summary>
public sealed class VolumeNamingTests
{
    public static TheoryData<string> Names => new()
    {
        "pvc-3f2a9c1e-7b4d-4e8f-9a6b-1c2d3e4f5a6b", // the external-provisioner's
        "a",
        "Data_1.backup-2",
        new string('v', 128),
        new string('v', 129),
        "",
        ".hidden",
        "-dash",
        "_under",
        "with space",
        "slash/inside",
        "ümlaut",
        "csi-looks-hashed",
        "tab\tname",
    };

    [Theory]
    [MemberData(nameof(Names))]
    public void Every_csi_name_becomes_a_volume_the_catalog_accepts_kept_as_is_exactly_when_the_catalog_takes_it(string csiName)
    {
        string volume = VolumeNaming.VolumeName(csiName);

        Assert.True(VolumeCatalog.IsValidName(volume), $"'{volume}' (from '{csiName}') is refused by the catalog");
        bool keptAsIs = volume == csiName;
        Assert.Equal(VolumeCatalog.IsValidName(csiName) && !csiName.StartsWith("csi-", StringComparison.Ordinal), keptAsIs);
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void A_volume_id_the_driver_made_reads_back(string csiName)
    {
        string volume = VolumeNaming.VolumeName(csiName);

        Assert.True(VolumeNaming.TryParseVolumeId(VolumeNaming.VolumeId("node-1", volume), out string node, out string parsed));
        Assert.Equal(("node-1", volume), (node, parsed));
    }

    [Theory]
    [InlineData("node-1/")]
    [InlineData("/volume")]
    [InlineData("node-1/a/b")]
    [InlineData("node-1/.hidden")]
    [InlineData("volume-without-node")]
    public void A_volume_id_the_driver_could_not_have_made_is_refused(string volumeId) =>
        Assert.False(VolumeNaming.TryParseVolumeId(volumeId, out _, out _));
}
