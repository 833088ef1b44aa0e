"""The report's flag for metrics that fail the conformance ladder (wgan_core/report/conformance.py), on hand-made ladders."""

from __future__ import annotations

from wgan_core.report.conformance import ROOT, conformance_notes, flagged

LADDER = "metric,feature_space,degradation,strengths,values,spearman_rho,monotone,first_break,designed_for,n_samples\n"
REPLICATES = "metric,feature_space,degradation,designed_for,draws,monotone_draws,seeds,first_breaks,rho_min,rho_max,n_samples\n"


def test_only_designed_rungs_flag_counted_over_draws_and_a_reversal_told_from_a_saturation(tmp_path):
    folder = tmp_path / "d"
    folder.mkdir()
    (folder / "ladder.csv").write_text(
        LADDER
        + "fid,pixels,blur,0;1;2,1.0;2.0;3.0,1.0,True,,True,500\n"
        + "precision,pixels,blur,0;1;2,0.9;0.95;0.5,0.5,False,1,True,500\n"  # precision rises at 1: a reversal
        + "precision,pixels,collapse,0;1;2,0.9;0.95;0.97,-1.0,False,1,False,500\n"  # not meant to see collapse
        + "recall,pixels,collapse,0;1;2,0.5;0.0;0.0,0.87,False,2,True,500\n"  # 1 - recall stays 1: saturated
    )
    (folder / "replicates.csv").write_text(
        REPLICATES
        + "fid,pixels,blur,True,2,2,0;1,-;-,1,1,500\n"  # monotone in both draws: no flag
        + "fid,cnn,blur,True,2,1,0;1,-;2,0.5,1,500\n"  # broken in the second draw only (no values: no improves/stays)
        + "precision,pixels,blur,True,2,0,0;1,1;1,0.5,0.5,500\n"
        + "precision,pixels,collapse,True,2,2,0;1,-;-,1,1,500\n"
        + "precision,cnn,collapse,False,2,0,0;1,1;1,-1,-1,500\n"  # not designed: no flag
        + "recall,pixels,collapse,True,2,0,0;1,2;2,0.87,0.87,500\n"
    )
    assert flagged("fid", folder) == {"blur": {"broken": 1, "total": 4, "spaces": ["cnn"], "breaks": [2.0], "how": []}}
    assert flagged("precision", folder)["blur"] == {"broken": 2, "total": 2, "spaces": ["pixels"], "breaks": [1.0], "how": ["improves"]}
    assert "collapse" not in flagged("precision", folder)
    assert flagged("recall", folder)["collapse"]["how"] == ["stays"]
    notes = conformance_notes(["fid", "precision", "recall", "w1"], "d", tmp_path)
    assert len(notes) == 3 and "blur (in 1 of 4 space-draws: cnn; first break at strength 2)" in notes[0]
    assert "blur (in 2 of 2 space-draws: pixels; first break at strength 1, where the score improves)" in notes[1]
    assert "where the score stops changing, saturated" in notes[2] and "500 samples" in notes[2]
    assert "(results/metric-conformance/d/replicates.csv: real d, 500 samples per side)" in notes[0]
    assert "this report's" not in notes[0]  # no space given: nothing said of one
    fid_in = {space: conformance_notes(["fid"], "d", tmp_path, space=space)[0] for space in ("pixels", "cnn", "classifier")}
    assert "In this report's feature space (pixels) it worsens at every such rung in every draw." in fid_in["pixels"]
    assert "It breaks in this report's feature space (cnn) too." in fid_in["cnn"]
    assert "this report's" not in fid_in["classifier"]  # a space the ladder does not have: nothing said
    assert conformance_notes(["precision"], "d", tmp_path / "absent") == []  # no ladders at all (the package outside the repository): no note
    other = conformance_notes(["fid", "w1"], "cifar10", tmp_path)  # another data set: d's verdicts are not carried over
    assert other == ["No metric conformance ladder has been run on cifar10 (results/metric-conformance/ has d): its metrics are unchecked "
                     "there. `python benchmarks/conformance.py --dataset cifar10` writes one, once that script has a source for the data set."]  # fmt: skip
    assert conformance_notes(["w1", "modes"], "cifar10", tmp_path) == []  # metrics the ladder does not check: no note


def test_the_committed_fashion_ladder_flags_precision_and_recall_everywhere_and_fid_once():
    folder = ROOT / "fashion-mnist"
    assert flagged("precision", folder)["blur"]["broken"] == flagged("precision", folder)["blur"]["total"]
    assert flagged("recall", folder)["collapse"]["how"] == ["stays"]
    assert flagged("fid", folder) == {"drop-classes": {"broken": 1, "total": 12, "spaces": ["digits"], "breaks": [8.0], "how": []}}
