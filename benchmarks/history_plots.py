"""The throughput history's figures and its check: throughput_<name>.png and history_<name>.png of a CSV, and
`--check-history` (the history's verdicts, then the figures). The history itself is benchmarks/history.py.
"""

from __future__ import annotations

import sys
from pathlib import Path

from history import MEMBER, ROOT, THRESHOLD, check, compare, load, load_records, read_rows, rule


def plot_history(path: Path, threshold: float = THRESHOLD, repo: Path | None = ROOT, columns: int = 5) -> tuple[Path, list[str]]:
    """history_<name>.png: one panel per configuration, a block of panels per machine, commits in order.

    Each row is a grey dot; the line joins the commits' figures; a panel whose newest commit
    is flagged is drawn red. Returns the figure's path and the panels' titles (machine | config).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    comparisons = compare(load(path, repo), threshold, load_records(path))
    machines = list(dict.fromkeys(c.series.machine for c in comparisons))
    per_machine = {m: [c for c in comparisons if c.series.machine == m] for m in machines}
    grid_rows = {m: -(-len(cs) // columns) for m, cs in per_machine.items()}
    fig = plt.figure(figsize=(2.7 * columns, 2.3 * sum(grid_rows.values()) + 0.5 * len(machines)), layout="constrained")
    blocks = fig.subfigures(len(machines), 1, height_ratios=list(grid_rows.values()), squeeze=False)[:, 0]
    titles = []
    for block, machine in zip(blocks, machines):
        block.suptitle(machine, fontsize=9, fontweight="bold")
        axes = block.subplots(grid_rows[machine], columns, squeeze=False).ravel()
        for ax, c in zip(axes, per_machine[machine]):
            s = c.series
            colour = "C3" if c.slower else ("C1" if c.flagged and c.settled is None else "C0")
            for i, values in enumerate(s.rows):
                ax.plot([i] * len(values), values, ".", color="0.6", markersize=4)
            ax.plot(range(len(s.commits)), [s.figure(i) for i in range(len(s.commits))], "o-", color=colour, markersize=3)
            change = "" if c.change is None else f" {100 * c.change:+.0f}%" + (
                " SLOWER" if c.slower else " compare?" if c.flagged and c.settled is None else f" {rule(c.settled)}" if c.settled else "")
            variant, _, rest = s.config.partition(" ")
            ax.set_title(f"{variant}{change}\n{rest}", fontsize=6, color=colour)
            ax.set_xticks(range(len(s.commits)), s.commits, rotation=40, fontsize=5, ha="right")
            ax.tick_params(axis="y", labelsize=5)
            ax.set_ylabel("ms / member iter" if s.metric == MEMBER else "ms / gen iter", fontsize=5)
            ax.set_xlim(-0.5, max(len(s.commits) - 0.5, 0.5))
            ax.set_ylim(0, 1.15 * max(max(values) for values in s.rows))  # from zero: a 10% step looks like one
            titles.append(f"{machine} | {s.config}{change}")
        for ax in axes[len(per_machine[machine]):]:
            ax.set_axis_off()
    out = Path(path).with_name(f"history_{Path(path).stem}.png")
    fig.savefig(out, dpi=80)
    plt.close(fig)
    return out, titles


def plot(path: Path) -> list[Path]:
    """The figures of a throughput CSV: throughput_<name>.png (the latest run per variant) and history_<name>.png (plot_history)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    df = pd.read_csv(path, dtype={k: str for k in ("git_commit", "variant", "arch", "device", "device_name", "dtype", "cpu", "note")})
    df["setting"] = [
        f"{a}{'' if a == 'mlp' else r} w{w} b{b} {t}{' channels_last' if cl else ''}{' compile' if co else ''}"
        for a, r, w, b, t, cl, co in zip(df.arch, df.resolution, df.width, df.batch, df["dtype"], df.channels_last, df["compile"])
    ]
    out = []
    last = df.groupby(["setting", "variant"], sort=False).tail(1)
    fig, ax = plt.subplots(figsize=(7, 3.5))
    settings = list(dict.fromkeys(last.setting))
    variants = list(dict.fromkeys(last.variant))
    wbar = 0.8 / max(len(settings), 1)
    for i, s in enumerate(settings):
        sub = last[last.setting == s].set_index("variant").reindex(variants)
        ax.bar([j + i * wbar for j in range(len(variants))], sub.images_per_s, width=wbar, label=s)
    ax.set_xticks([j + wbar * (len(settings) - 1) / 2 for j in range(len(variants))], variants)
    ax.set_ylabel("real images / s (critic)")
    ax.set_yscale("log")  # MLP and DCGAN settings differ by an order of magnitude
    ax.set_title(f"throughput on {df.device_name.iloc[-1]}", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    out.append(path.with_name(f"throughput_{path.stem}.png"))
    fig.savefig(out[-1], dpi=110)
    plt.close(fig)

    out.append(plot_history(path)[0])
    return out


def check_history(path: Path, threshold: float, plot_figures: bool = True) -> int:
    """throughput.py --check-history: print the report and redraw the CSV's figures.

    Returns 1 when a configuration's newest commit is a regression an interleaved comparison
    confirmed, else 0; 2 (with one line on stderr) when the file is missing or lacks columns.
    """
    if not path.is_file():
        print(f"throughput.py: error: --check-history: no such file {path}", file=sys.stderr)
        return 2
    try:
        load_records(path)
        read_rows(path)
    except ValueError as e:
        print(f"throughput.py: error: --check-history: {e}", file=sys.stderr)
        return 2
    code = check(path, threshold)
    if plot_figures:
        plot(path)
    return code
