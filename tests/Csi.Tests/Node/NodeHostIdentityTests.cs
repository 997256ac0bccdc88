using NovaStor.Csi.Node;
using Xunit;

namespace NovaStor.Csi.Tests.Node;

/// <summary>The node's host NQN and host ID: read when present, made once when missing, refused when garbage.</summary>
public sealed class NodeHostIdentityTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("novastor-etc-nvme-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public void A_missing_identity_is_made_once_and_then_always_read_back()
    {
        var first = NodeHostIdentity.LoadOrCreate(_folder);
        Assert.Equal($"nqn.2014-08.org.nvmexpress:uuid:{first.HostId}", first.HostNqn);
        Assert.Equal(first.HostNqn + "\n", File.ReadAllText(Path.Combine(_folder, "hostnqn")));
        Assert.Equal(first.HostId + "\n", File.ReadAllText(Path.Combine(_folder, "hostid")));
        Assert.Equal(first, NodeHostIdentity.LoadOrCreate(_folder));
        Assert.Empty(Directory.GetFiles(_folder, "*.tmp"));
    }

    [Fact]
    public void An_existing_nqn_is_kept_and_its_uuid_becomes_the_host_id()
    {
        File.WriteAllText(Path.Combine(_folder, "hostnqn"), "nqn.2014-08.org.nvmexpress:uuid:6f1c0f6e-8c1b-4a43-9a55-1a2b3c4d5e6f\n");
        var identity = NodeHostIdentity.LoadOrCreate(_folder);
        Assert.Equal(("nqn.2014-08.org.nvmexpress:uuid:6f1c0f6e-8c1b-4a43-9a55-1a2b3c4d5e6f", Guid.Parse("6f1c0f6e-8c1b-4a43-9a55-1a2b3c4d5e6f")), (identity.HostNqn, identity.HostId));

        File.WriteAllText(Path.Combine(_folder, "hostnqn"), "nqn.2024-01.com.example:worker-7");
        File.WriteAllText(Path.Combine(_folder, "hostid"), "0a0b0c0d-0000-4000-8000-000000000001");
        Assert.Equal(new NodeHostIdentity("nqn.2024-01.com.example:worker-7", Guid.Parse("0a0b0c0d-0000-4000-8000-000000000001")), NodeHostIdentity.LoadOrCreate(_folder));
    }

    [Theory]
    [InlineData("hostnqn", "not-an-nqn", "not a host NQN")]
    [InlineData("hostid", "12345", "not a UUID")]
    public void Garbage_stops_the_plugin_naming_the_file(string file, string content, string words)
    {
        File.WriteAllText(Path.Combine(_folder, file), content);
        var failure = Assert.Throws<InvalidOperationException>(() => NodeHostIdentity.LoadOrCreate(_folder));
        Assert.Contains(Path.Combine(_folder, file), failure.Message, StringComparison.Ordinal);
        Assert.Contains(words, failure.Message, StringComparison.Ordinal);
    }
}
