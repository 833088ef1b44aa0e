"""benchmarks/conformance.py on small synthetic cases: strength 0 is the undegraded draw, each degradation does what its
strength says (classes removed, from every channel of a stack; distinct images left; channels swapped), blur and noise
worsen the pixel-space FID rung by rung, a control rung is no failure, and bad input is one line with exit 2."""

import math
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import conformance  # noqa: E402
from conformance import DEGRADATIONS, Source, check_strength, degrade, fid_kid, ladder, score_sets  # noqa: E402

from wgan_core.config import ConfigError  # noqa: E402


def _pool(n: int = 400, seed: int = 0, channels: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """Smooth synthetic images uint8 (n, C, 28, 28) (random 7x7 patterns upsampled) and labels 0..9 in turn."""
    g = torch.Generator().manual_seed(seed)
    low = torch.rand(n, channels, 7, 7, generator=g)
    x = torch.nn.functional.interpolate(low, size=(28, 28), mode="bilinear", align_corners=False)
    return (x * 255).round().to(torch.uint8), torch.arange(n) % 10


@pytest.mark.parametrize("name", list(DEGRADATIONS))
def test_strength_zero_is_the_undegraded_draw(name):
    src = Source(*_pool(channels=DEGRADATIONS[name].channels or 1))
    base = src.draw(100, conformance.SEED)
    assert torch.equal(degrade(src, name, 0, 100), base)
    assert not torch.equal(degrade(src, name, DEGRADATIONS[name].strengths[1], 100), base)


def test_drop_classes_removes_that_many_classes_and_collapse_keeps_n_over_2_to_the_s_images():
    labels = torch.arange(400) % 10
    pool = labels.view(-1, 1, 1, 1).expand(-1, 1, 8, 8).to(torch.uint8).contiguous()  # each image is its label's value
    for s in (0, 3, 9):
        assert len(degrade(Source(pool, labels), "drop-classes", s, 30).unique()) == 10 - s
    src = Source(*_pool())
    for s, k in ((0, 128), (1, 64), (3, 16), (7, 1)):
        x = degrade(src, "collapse", s, 128)
        assert len(x) == 128 and len(x.flatten(1).unique(dim=0)) == k


def test_on_stacks_a_dropped_digit_class_leaves_every_channel_and_10_minus_s_cubed_modes_remain():
    labels = torch.arange(400) % 10
    digits = labels.view(-1, 1, 1, 1).expand(-1, 1, 8, 8).to(torch.uint8).contiguous()  # each digit image is its label's value
    src = Source(digits, labels, stacks=True)
    assert src.channels == 3
    for s in (0, 3, 8, 9):
        x = degrade(src, "drop-classes", s, 3000)  # (3000, 3, 8, 8)
        kept = set(x[:, 0, 0, 0].tolist())
        assert len(kept) == 10 - s and all(set(x[:, c, 0, 0].tolist()) == kept for c in (1, 2))  # the same classes in every channel
        modes = set((x[:, :, 0, 0].long() @ torch.tensor([100, 10, 1])).tolist())
        triples = {100 * a + 10 * b + c for a in kept for b in kept for c in kept}  # the (10 - s)^3 modes left
        assert modes <= triples and (s < 8 or modes == triples)  # 3,000 draws see all 8 (s = 8) or the 1 (s = 9)


def test_swap_channels_swaps_red_and_blue_of_a_nested_share_and_needs_rgb():
    src = Source(*_pool(channels=3))
    base = src.draw(200, conformance.SEED)
    whole = degrade(src, "swap-channels", 1, 200)
    torch.testing.assert_close(whole, base[:, [2, 1, 0]])
    half = degrade(src, "swap-channels", 0.5, 200)
    swapped = ~(half == base).flatten(1).all(1)
    assert int(swapped.sum()) == 100 and torch.equal(half[swapped], base[swapped][:, [2, 1, 0]])
    quarter = ~(degrade(src, "swap-channels", 0.25, 200) == base).flatten(1).all(1)
    assert int(quarter.sum()) == 50 and bool((swapped | ~quarter).all())  # nested: the quarter is part of the half
    with pytest.raises(ConfigError, match=r"swap-channels needs RGB images \(3 channels\); these images has 1"):
        degrade(Source(*_pool()), "swap-channels", 0.5, 100)


def test_fid_and_kid_agreement_counts_the_undamaged_draw_once_leaves_out_controls_and_finds_the_one_discordant_pair():
    rows = [("blur", 0, 0.0, 0.0), ("noise", 0, 0.0, 0.0), ("blur", 1, 1.0, 1.0), ("blur", 2, 2.0, 3.0), ("noise", 1, 3.0, 2.0),
            ("swap-channels", 1, 9.0, -1.0)]  # fmt: skip
    scores = pd.DataFrame([dict(dataset="d", degradation=d, strength=s, feature_space="pixels", fid=f, kid=k, n_samples=10) for d, s, f, k in rows])
    per_set, agree = fid_kid(scores, unmoved=("swap-channels",))
    assert per_set.degradation.tolist() == ["none", "blur", "blur", "noise"]  # strength 0 once; the control left out
    assert per_set.fid_rank.tolist() == [1, 2, 3, 4] and per_set.kid_rank.tolist() == [1, 2, 4, 3]
    row = agree.iloc[0]
    assert (row.sets, row.pairs, row.discordant) == (4, 6, 1)  # blur at 2 against noise at 1: FID and KID order them oppositely
    assert row.kendall_tau == pytest.approx((5 - 1) / 6)  # (concordant - discordant) / pairs, no ties


def test_a_rung_the_data_does_not_feel_is_a_control_not_a_failure():
    scores = pd.DataFrame([dict(dataset="d", degradation=name, strength=s, feature_space="pixels", extractor="x", n_samples=10, n_real=10, seed=0,
                                fid=v, kid=v, precision=0.5, recall=0.5) for name in ("blur", "swap-channels") for s, v in ((0, 1.0), (1, 0.9))])  # fmt: skip
    lad = ladder(scores, {"blur": (0, 1), "swap-channels": (0, 1)}, unmoved=("swap-channels",)).set_index(["metric", "degradation"])
    assert bool(lad.loc[("fid", "blur"), "designed_for"]) and not bool(lad.loc[("fid", "swap-channels"), "designed_for"])
    assert not lad.loc[("fid", "swap-channels"), "monotone"] and (lad.dataset == "d").all()


@pytest.mark.parametrize("name, strengths", [("blur", (0, 1, 2, 3)), ("noise", (0, 0.05, 0.1, 0.2, 0.4))])
def test_blur_and_noise_move_the_images_further_and_worsen_pixel_fid_rung_by_rung(name, strengths, tmp_path):
    src = Source(*_pool())
    base = degrade(src, name, 0, 200)
    dist = [float((degrade(src, name, s, 200).float() - base.float()).pow(2).mean()) for s in strengths]
    assert dist[0] == 0 and all(b > a for a, b in zip(dist, dist[1:]))
    real = _pool(200, seed=1)[0]
    scores = score_sets([(name, s) for s in strengths], ["pixels"], src, real, None, 200, tmp_path / "scores.csv", lambda m: None)
    row = ladder(scores, {name: strengths}).set_index("metric").loc["fid"]
    assert row.monotone and row.spearman_rho == 1.0 and row.n_samples == 200
    said: list[str] = []
    again = score_sets([(name, s) for s in strengths], ["pixels"], src, real, None, 200, tmp_path / "scores.csv", said.append)
    assert again.equals(scores) and said == [f"resuming: {len(strengths)} rows in {tmp_path / 'scores.csv'}"]  # nothing recomputed


@pytest.mark.parametrize(
    "args, message",
    [
        (["--strengths", "blur=0,9"], r"blur takes strengths in \[0, 5\]"),
        (["--strengths", "noise=-0.1,0.2"], r"noise takes strengths in \[0, 2\]"),
        (["--strengths", "drop-classes=0,1.5"], "a whole number"),
        (["--strengths", "collapse=0,12", "--n", "2000"], r"collapse takes strengths in \[0, 10.9658\]"),
        (["--strengths", "blur=1,0.5"], "increasing"),
        (["--strengths", "smear=0,1"], "unknown 'smear'"),
        (["--spaces", "nope"], "unknown 'nope'"),
        (["--dataset", "cifar-100"], "--dataset: unknown 'cifar-100'; allowed: fashion-mnist, stacked-mnist"),
        (["--strengths", "swap-channels=0,1"], r"swap-channels needs RGB images \(3 channels\); fashion-mnist has 1"),
        (["--dataset", "stacked-mnist", "--strengths", "drop-classes=0,10"], r"drop-classes takes strengths in \[0, 9\]"),
    ],
)
def test_a_strength_out_of_range_is_one_line_exit_2(capsys, args, message):
    assert conformance.main([*args, "--out", "/nonexistent/never-written"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("error:"), err
    assert __import__("re").search(message, err), err


def test_check_strength_accepts_the_ends_of_the_range():
    assert check_strength("collapse", math.log2(2000), 2000) == math.log2(2000)
    assert check_strength("drop-classes", 9, 100) == 9
    with pytest.raises(ConfigError, match="nan"):
        check_strength("blur", float("nan"), 100)


def _study_scores() -> pd.DataFrame:
    """Three objectives, three seeds, two spaces: s1 orders a < b < c on every seed, s2 orders b < a < c, and a's seed-0 run in s2
    has a non-finite FID (a failed run)."""
    fid = {"s1": {"a": 1.0, "b": 2.0, "c": 3.0}, "s2": {"a": 2.0, "b": 1.0, "c": 3.0}}
    rows = [dict(run_id=f"{o}{seed}", objective=o, seed=seed, status="ok", feature_space=s, fid=fid[s][o] + 0.01 * seed, kid=fid[s][o])
            for s in fid for o in "abc" for seed in range(3)]  # fmt: skip
    df = pd.DataFrame(rows)
    df.loc[(df.feature_space == "s2") & (df.run_id == "a0"), "fid"] = float("nan")
    return df


def test_rankings_rank_a_failed_run_worst_and_list_the_flip():
    from wgan_core.report.feature_spaces import pair_orders, rankings, seed_ranks

    scores = _study_scores()
    objectives, r = seed_ranks(scores, "s2", "fid")
    assert objectives == ["a", "b", "c"] and r.tolist() == [[3, 1, 2], [2, 1, 3], [2, 1, 3]]  # seed 0: a failed, ranked last
    ranks, kendall, flips = rankings(scores, ["s1", "s2"])
    fid = ranks[ranks.metric == "fid"].set_index(["feature_space", "objective"])
    assert fid.loc[("s2", "a"), "mean_seed_rank"] == pytest.approx(7 / 3) and fid.loc[("s2", "a"), "failed_runs"] == 1
    assert [fid.loc[("s2", o), "rank"] for o in "abc"] == [2, 1, 3] and [fid.loc[("s1", o), "rank"] for o in "abc"] == [1, 2, 3]
    k = kendall.set_index("metric").loc["fid"]
    assert k.tau == pytest.approx(1 / 3) and k.interval_lo <= k.tau <= k.interval_hi and "coverage not measured" in k.interval
    f = flips[flips.metric == "fid"]
    assert f[["objective_1", "objective_2", "better_in_a", "better_in_b", "seeds_same_order"]].values.tolist() == [["a", "b", "a", "b", 0]]
    pairs = pair_orders(ranks).set_index(["metric", "objective_1", "objective_2"])
    assert not pairs.loc[("fid", "a", "b"), "holds_in_every_space"] and pairs.loc[("fid", "a", "c"), "holds_in_every_space"]


def test_the_report_shows_each_space_s_ranks_the_flip_and_writes_its_tables(tmp_path):
    from wgan_core.report.feature_spaces import SCORES, feature_space_sections

    runs = _study_scores().drop_duplicates("run_id")[["run_id", "status"]]
    assert feature_space_sections(tmp_path, tmp_path, runs) == []  # no scores.csv: no section
    (tmp_path / SCORES).parent.mkdir()
    _study_scores().to_csv(tmp_path / SCORES, index=False)
    sections = feature_space_sections(tmp_path, tmp_path, runs)
    assert [h for h, _, _ in sections] == ["Ranks per feature space: FID", "Ranks per feature space: KID", "Kendall τ between feature spaces",
                                           "Rank flips between feature spaces"]  # fmt: skip
    fid = sections[0][1]  # best first by s1; s2: a's failed seed-0 run ranks last there, so a's mean seed rank is (3 + 2 + 2) / 3
    assert fid.values.tolist() == [["a", "1 (1.00)", "2 (2.33), 1 failed"], ["b", "2 (2.00)", "1 (1.00)"], ["c", "3 (3.00)", "3 (2.67)"]]
    assert "2 of 3 pairs of objectives keep their order in every space" in sections[0][2]  # a-c and b-c hold, a-b flips
    assert "FID 1, KID 1" in sections[2][2]
    assert sorted(p.name for p in tmp_path.glob("feature_*.csv")) == ["feature_flips.csv", "feature_kendall.csv", "feature_pairs.csv",
                                                                     "feature_ranks.csv"]  # fmt: skip
    assert "WARNING" not in sections[0][2]
    later = pd.concat([runs, pd.DataFrame([{"run_id": "d0", "status": "ok"}])])  # a run added since
    later.loc[later.run_id == "a0", "status"] = "diverged"  # and one whose status changed since it was scored
    note = feature_space_sections(tmp_path, tmp_path, later)[0][2]
    assert note.startswith("WARNING: feature-spaces/scores.csv is older than 2 run(s) of this study") and "a0, d0)" in note


@pytest.mark.parametrize("readme", ["results/metric-conformance/fashion-mnist/README.md", "results/stacked-mnist/feature-spaces/README.md"])
def test_the_readmes_quote_their_csvs_unchanged(readme):
    """Every table and number in the two READMEs is the one its CSV holds (`python -m wgan_core quote` wrote them)."""
    from wgan_core.report.quote import check_file

    root = Path(__file__).resolve().parents[1]
    assert check_file(root / readme, root) == []
