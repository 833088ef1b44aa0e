"""The report's flag for metrics that fail the conformance ladder (wgan_core/report/conformance.py), on hand-made ladders."""

from __future__ import annotations

from wgan_core.report.conformance import LADDER_CSV, conformance_notes, flagged

HEADER = "metric,feature_space,degradation,strengths,values,spearman_rho,monotone,first_break,designed_for,n_samples\n"


def test_only_designed_rungs_flag_and_a_reversal_is_told_from_a_saturation(tmp_path):
    path = tmp_path / "ladder.csv"
    path.write_text(
        HEADER
        + "fid,pixels,blur,0;1;2,1.0;2.0;3.0,1.0,True,,True,500\n"  # worsens at every rung: no flag
        + "precision,pixels,blur,0;1;2,0.9;0.95;0.5,0.5,False,1,True,500\n"  # precision rises at 1: a reversal
        + "precision,pixels,collapse,0;1;2,0.9;0.95;0.97,-1.0,False,1,False,500\n"  # not meant to see collapse: no flag
        + "recall,pixels,collapse,0;1;2,0.5;0.0;0.0,0.87,False,2,True,500\n"  # 1 - recall stays 1: saturated
    )
    assert flagged("fid", path) == {}
    assert flagged("precision", path) == {"blur": [("pixels", 1.0, "improves")]}
    assert flagged("recall", path) == {"collapse": [("pixels", 2.0, "stays")]}
    notes = conformance_notes(["fid", "precision", "recall", "w1"], path)
    assert len(notes) == 2 and "precision" in notes[0] and "recall" in notes[1]
    assert "blur (the score improves at strength 1, in 1 of 1 feature spaces)" in notes[0] and "500 samples" in notes[0]
    assert "collapse (the score stops changing, saturated at strength 2, in 1 of 1 feature spaces)" in notes[1]
    assert conformance_notes(["precision"], tmp_path / "absent.csv") == []  # no ladder: no note


def test_the_committed_ladder_flags_precision_and_recall_and_passes_fid_and_kid():
    notes = " ".join(conformance_notes(["fid", "kid", "precision", "recall"], LADDER_CSV))
    assert "precision" in notes and "recall" in notes and "fid" not in notes and "kid" not in notes
