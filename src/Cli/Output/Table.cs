using System.Text;

namespace NovaStor.Cli.Output;

/// <summary>
/// Columns aligned on the widest cell, two spaces apart, a header line of lower-case names (as
/// connect prints its namespaces); numbers are right-aligned, text left-aligned.
/// </summary>
internal sealed class Table(params string[] headers)
{
    private readonly List<string[]> _rows = [];
    private readonly bool[] _numeric = new bool[headers.Length];

    /// <summary>Right-aligns the columns named here.</summary>
    public Table Numeric(params string[] columns)
    {
        foreach (string column in columns)
        {
            int index = Array.IndexOf(headers, column);
            if (index < 0)
            {
                throw new ArgumentException($"no column '{column}'", nameof(columns));
            }

            _numeric[index] = true;
        }

        return this;
    }

    public int Count => _rows.Count;

    public void Add(params string[] cells)
    {
        if (cells.Length != headers.Length)
        {
            throw new ArgumentException($"{cells.Length} cells for {headers.Length} columns", nameof(cells));
        }

        _rows.Add(cells);
    }

    public override string ToString()
    {
        var widths = headers.Select(h => h.Length).ToArray();
        foreach (var row in _rows)
        {
            for (int i = 0; i < row.Length; i++)
            {
                widths[i] = Math.Max(widths[i], row[i].Length);
            }
        }

        var s = new StringBuilder();
        Line(s, headers, widths);
        foreach (var row in _rows)
        {
            Line(s, row, widths);
        }

        return s.ToString();
    }

    private void Line(StringBuilder s, string[] cells, int[] widths)
    {
        var line = new StringBuilder();
        for (int i = 0; i < cells.Length; i++)
        {
            if (i > 0)
            {
                line.Append("  ");
            }

            line.Append(_numeric[i] ? cells[i].PadLeft(widths[i]) : cells[i].PadRight(widths[i]));
        }

        s.Append(line.ToString().TrimEnd()).Append('\n');
    }
}
