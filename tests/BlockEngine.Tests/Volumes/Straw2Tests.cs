using NovaStor.BlockEngine.Volumes;

namespace NovaStor.BlockEngine.Tests.Volumes;

public sealed class Straw2Tests
{
    private const int Keys = 60_000;

    [Fact]
    public void The_same_key_and_drives_always_give_the_same_drive()
    {
        ulong[] ids = [11, 22, 33];
        double[] weights = [1, 2, 3];
        for (int chunk = 0; chunk < 1000; chunk++)
        {
            ulong key = Straw2.ChunkKey(new Guid("6e6f7661-7374-4f72-a000-000000000001"), chunk);
            Assert.Equal(Straw2.Select(key, ids, weights), Straw2.Select(key, ids, weights));
        }
    }

    [Fact]
    public void Drives_win_keys_in_proportion_to_their_weight()
    {
        ulong[] ids = [1, 2, 3];
        double[] weights = [1, 3, 6];
        var wins = new int[3];
        var volume = Guid.NewGuid();
        for (int chunk = 0; chunk < Keys; chunk++)
        {
            wins[Straw2.Select(Straw2.ChunkKey(volume, chunk), ids, weights)]++;
        }

        Assert.InRange(wins[0] / (double)Keys, 0.08, 0.12);
        Assert.InRange(wins[1] / (double)Keys, 0.27, 0.33);
        Assert.InRange(wins[2] / (double)Keys, 0.57, 0.63);
    }

    [Fact]
    public void Adding_a_drive_moves_keys_only_onto_the_new_drive()
    {
        ulong[] before = [1, 2, 3];
        ulong[] after = [1, 2, 3, 4];
        double[] weightsBefore = [1, 1, 1];
        double[] weightsAfter = [1, 1, 1, 1];
        var volume = Guid.NewGuid();
        int moved = 0;
        for (int chunk = 0; chunk < Keys; chunk++)
        {
            ulong key = Straw2.ChunkKey(volume, chunk);
            int old = Straw2.Select(key, before, weightsBefore);
            int now = Straw2.Select(key, after, weightsAfter);
            if (old != now)
            {
                Assert.Equal(3, now);
                moved++;
            }
        }

        Assert.InRange(moved / (double)Keys, 0.22, 0.28);
    }

    [Fact]
    public void A_zero_weight_never_wins_and_no_positive_weight_is_an_error()
    {
        ulong[] ids = [1, 2];
        for (int chunk = 0; chunk < 1000; chunk++)
        {
            Assert.Equal(1, Straw2.Select(Straw2.ChunkKey(Guid.Empty, chunk), ids, [0, 5]));
        }

        Assert.Throws<ArgumentException>(() => Straw2.Select(1, ids, [0, 0]));
    }
}
