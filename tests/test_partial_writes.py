"""Resume's clean-up of temporary files that a killed atomic write left behind."""

from __future__ import annotations

from harness.runs.results import RESULT_FILE
from harness.runs.resume import remove_partial_writes


def test_remove_partial_writes_deletes_only_leftover_temporary_results(tmp_path):
    leftovers = [tmp_path / f".{RESULT_FILE}.{tag}.tmp" for tag in ("b", "a")]
    kept = [tmp_path / RESULT_FILE, tmp_path / "notes.tmp", tmp_path / f".{RESULT_FILE}.a.tmp.bak"]
    for path in leftovers + kept:
        path.write_text("{")
    assert remove_partial_writes(str(tmp_path)) == sorted(leftovers)
    assert sorted(tmp_path.iterdir()) == sorted(kept)
    assert remove_partial_writes(tmp_path) == []


def test_remove_partial_writes_of_a_missing_folder_is_nothing(tmp_path):
    assert remove_partial_writes(tmp_path / "absent") == []
