"""Mode counts beside the published tables: our cells, the real-data reference and the papers' rows. Torch-free.

A data set with published mode counts gets a table: each cell's mean modes and reverse KL with
their interval (the summary's: the range for n <= 5, else a BCa bootstrap), the real-data
reference the runs measured (the same metric on as many real samples with the same classifier:
what a perfect generator scores), and the papers' rows, labelled as published, with their
setting and what their ± means. The published numbers are typed here from the papers' tables
(cited per row); they are the only numbers in a report that this code did not compute.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import pandas as pd

from .tables import metric_num


class Published(NamedTuple):
    source: str  # paper and table
    setting: str  # how they trained and scored
    method: str
    modes: float
    reverse_kl: float
    high_quality: float | None  # share of high-quality samples (2-D mixtures), None where not reported
    spread: str  # what their ± is ('' where none)


_SETTING = "DCGAN, 128k stacks, 50 epochs; modes and KL on 26,000 samples with a pretrained digit classifier"
_VEEGAN = "Srivastava et al.'s setting (VEEGAN), " + _SETTING
_PACGAN = "Lin et al.'s setting (PacGAN), " + _SETTING
_UNROLLED = "Metz et al.'s DCGAN, discriminator smaller than the generator; 25,600 samples"
_PACGAN_2D = "G: 4 x 400 ReLU + BN, D: 3 maxout layers 200 x 5; Adam 1e-4 beta1 0.8, batch 100, 400 epochs of 100k; 2,500 samples"
_VIA_PACGAN = "Srivastava et al. 2017 (VEEGAN) Table 2, as Lin et al. 2018 (PacGAN) Table 2 cites it"
_METZ = "Metz et al. 2017 (Unrolled GAN) Table 2, 0 unrolling steps, as Lin et al. 2018 (PacGAN) Table 3 reproduces it"
_NO_SPREAD = "no spread stated; whether a mean over runs is not restated here"

PUBLISHED: dict[str, list[Published]] = {
    "stacked-mnist": [
        # VEEGAN's numbers, which PacGAN's Table 2 copies beside its own rows (not PacGAN's runs).
        Published(_VIA_PACGAN, _VEEGAN, "DCGAN", 99, 3.40, None, _NO_SPREAD),
        Published(_VIA_PACGAN, _VEEGAN, "ALI", 16, 5.40, None, _NO_SPREAD),
        Published(_VIA_PACGAN, _VEEGAN, "Unrolled GAN", 48.7, 4.32, None, _NO_SPREAD),
        Published(_VIA_PACGAN, _VEEGAN, "VEEGAN", 150, 2.95, None, _NO_SPREAD),
        # PacGAN's own runs.
        Published("Lin et al. 2018 (PacGAN) Table 2", _PACGAN, "DCGAN", 78.9, 4.50, None, "mean ± 6.46 modes, ± 0.127 KL, as published"),
        Published("Lin et al. 2018 (PacGAN) Table 2", _PACGAN, "PacDCGAN2", 1000, 0.06, None, "its ± is in the table, not restated here"),
        # Plain DCGANs (0 unrolling steps) in Metz et al.'s setting: not unrolled GANs. PacGAN's Table 3 reproduces these rows.
        Published(_METZ, _UNROLLED + "; D 1/4 of G", "DCGAN, no unrolling", 30.6, 5.99, None, "mean ± 20.73 modes, ± 0.42 KL, as published"),
        Published(_METZ, _UNROLLED + "; D 1/2 of G", "DCGAN, no unrolling", 628, 2.58, None, "mean ± 140.9 modes, ± 0.75 KL, as published"),
        Published("Huang et al. 2024 (R3GAN), its StackedMNIST table (table number not verified here)",
                  "their R3GAN backbone; relativistic loss + R1 + R2", "R3GAN", 1000, math.nan, None, "KL not restated here"),
    ],
    "2d-grid": [Published("Lin et al. 2018 (PacGAN) Table 1", _PACGAN_2D, "GAN", 17.3, 0.70, 0.948, "± standard error over 10 trials (0.8, 0.07, 0.7%)")],
    "2d-ring": [Published("Lin et al. 2018 (PacGAN) Table 1", _PACGAN_2D, "GAN", 6.3, 0.45, 0.982, "± standard error over 10 trials (0.5, 0.09, 0.2%)")],
}

# Which of a run's final metrics stand beside the published columns: the image sets score all their
# samples (modes, reverse_kl); the 2-D mixtures the VEEGAN/PacGAN 2,500-sample statistics.
COLUMNS = {
    "stacked-mnist": ("modes", "reverse_kl", None),
    "2d-grid": ("modes_2500", "reverse_kl_2500", "high_quality_2500"),
    "2d-ring": ("modes_2500", "reverse_kl_2500", "high_quality_2500"),
}
REFERENCE = ("modes_real", "reverse_kl_real")  # the runs' real-data reference (final.json metrics), where measured


def _ours(summary: pd.DataFrame, m: str, row: pd.Series) -> str:
    if f"{m}_mean" not in summary or pd.isna(row.get(f"{m}_mean")):
        return "—"
    return f"{metric_num(m, row[f'{m}_mean'])} [{metric_num(m, row[f'{m}_lo'])}, {metric_num(m, row[f'{m}_hi'])}]"


def mode_tables(summary: pd.DataFrame, runs: pd.DataFrame) -> list[tuple[str, pd.DataFrame, str]]:
    """(heading, table, note) per data set of the study that has published mode counts: ours, the real-data reference, theirs."""
    out = []
    for dataset in [d for d in summary.get("dataset", pd.Series(dtype=str)).unique() if d in PUBLISHED]:
        modes, kl, hq = COLUMNS[dataset]
        rows: list[dict[str, Any]] = []
        for _, r in summary[summary["dataset"] == dataset].iterrows():
            kind = r.get(f"{modes}_interval", "")
            failed = r.get(f"{modes}_failed", r["failed"])  # NaN: the cell did not measure the mode count
            rows.append({
                "source": "this study", "method": r["cell"], "runs": int(r["runs"]), "failed": 0 if pd.isna(failed) else int(failed),
                f"modes (mean [{kind}])": _ours(summary, modes, r), f"reverse KL (mean [{kind}])": _ours(summary, kl, r),
                **({"high quality": _ours(summary, hq, r)} if hq else {}), "setting": "this study's config (summary above)",
            })  # fmt: skip
        mine = runs[runs["dataset"] == dataset] if "dataset" in runs else runs.iloc[0:0]
        if all(c in mine for c in REFERENCE) and mine[REFERENCE[0]].notna().any():
            ref = mine[list(REFERENCE)].dropna().iloc[0]
            rows.append({
                "source": "this study", "method": "real data (reference)", "runs": "", "failed": "",
                f"modes (mean [{kind}])": metric_num("modes", ref[REFERENCE[0]]), f"reverse KL (mean [{kind}])": metric_num("reverse_kl", ref[REFERENCE[1]]),
                **({"high quality": ""} if hq else {}), "setting": "as many real samples, the same classifier: a perfect generator's score",
            })  # fmt: skip
        for p in PUBLISHED[dataset]:
            rows.append({
                "source": f"published: {p.source}", "method": p.method, "runs": "", "failed": "",
                f"modes (mean [{kind}])": metric_num("modes", p.modes), f"reverse KL (mean [{kind}])": metric_num("reverse_kl", p.reverse_kl),
                **({"high quality": "—" if p.high_quality is None else f"{p.high_quality:.3f}"} if hq else {}),
                "setting": p.setting + (f" ({p.spread})" if p.spread else ""),
            })  # fmt: skip
        note = (
            f"Modes and reverse KL of the final generators ({modes}, {kl}); ours are the mean over seeds with the interval the "
            "summary names, over the runs that did not fail (`failed` counts those on the mode count). Published rows are typed from the papers' tables; "
            "their settings differ from ours as the column says, so compare orderings, not digits."
        )
        out.append((f"{dataset}: modes beside the published table", pd.DataFrame(rows), note))
    return out


__all__ = ["COLUMNS", "PUBLISHED", "Published", "mode_tables"]
