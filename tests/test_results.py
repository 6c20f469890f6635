"""harness.runs.results: how a result.json is written, and which folders a rejected job removes.

A result that is half written, hidden from collaborators by its permissions, or named so
that resume cannot find its temporary file, would lose or corrupt a user's sweep.
"""

from __future__ import annotations

import json
import math
import os
import stat
import warnings

import numpy as np
import pytest

from harness.runs import results


def test_a_write_is_the_payload_as_indented_json_in_folders_it_makes(tmp_path):
    path = tmp_path / "a" / "b" / "result.json"
    payload = {"status": "ok", "value": math.nan, "records": [{"x": 1}]}
    results.write_json_atomic(path, payload)
    assert path.read_text() == json.dumps(payload, indent=1, allow_nan=True)
    assert os.listdir(path.parent) == ["result.json"]


def test_the_temporary_file_is_hidden_beside_the_result_and_named_for_it(tmp_path, monkeypatch):
    """Guards resume's clean-up: a killed write leaves `.result.json.*.tmp` in the job's folder."""
    seen = []
    fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (seen.extend(os.listdir(tmp_path)), fsync(fd)))
    results.write_json_atomic(tmp_path / "result.json", {"a": 1})
    (name,) = seen
    assert name.startswith(".result.json.") and name.endswith(".tmp")


@pytest.mark.parametrize("mask", [0o022, 0o002, 0o077])
def test_a_result_has_the_permissions_of_any_file_the_user_makes(tmp_path, mask):
    """Guards against mkstemp's 0600 (results hidden from collaborators) and a wrong umask."""
    old = os.umask(mask)
    try:
        results.write_json_atomic(tmp_path / "result.json", {"a": 1})
        assert results._umask() == mask
        assert os.umask(mask) == mask  # reading the mask left it as it was
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "result.json").stat().st_mode) == 0o666 & ~mask


def test_a_failed_write_keeps_the_old_result_and_leaves_no_temporary_file(tmp_path):
    path = tmp_path / "result.json"
    results.write_json_atomic(path, {"old": True})
    with pytest.raises(TypeError):
        results.write_json_atomic(path, {"new": object()})
    assert json.loads(path.read_text()) == {"old": True}
    assert os.listdir(tmp_path) == ["result.json"]


def test_a_failed_write_that_names_no_file_is_reported_with_the_results_path(tmp_path, monkeypatch):
    def full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    path = tmp_path / "result.json"
    with pytest.raises(OSError) as raised:
        results.write_json_atomic(path, {"a": 1})
    assert (raised.value.errno, raised.value.strerror, raised.value.filename) == (
        28,
        "No space left on device",
        str(path),
    )
    assert os.listdir(tmp_path) == []


def test_a_rejected_jobs_folder_is_removed_only_when_it_holds_hydras_bookkeeping(tmp_path):
    bare = tmp_path / "0"
    (bare / ".hydra").mkdir(parents=True)
    (bare / "run.log").write_text("")
    results.discard_if_bookkeeping_only(bare)
    assert not bare.exists()
    kept = tmp_path / "1"
    (kept / ".hydra").mkdir(parents=True)
    (kept / "result.json").write_text("{}")
    results.discard_if_bookkeeping_only(kept)
    assert sorted(os.listdir(kept)) == [".hydra", "result.json"]
    every = tmp_path / "2"  # all of Hydra's bookkeeping, and nothing else
    every.mkdir()
    for name in results.HYDRA_BOOKKEEPING:
        (every / name).write_text("")
    results.discard_if_bookkeeping_only(every)
    assert not every.exists()
    results.discard_if_bookkeeping_only(tmp_path / "missing")  # nothing there: nothing to do
    file = tmp_path / "file"
    file.write_text("x")
    results.discard_if_bookkeeping_only(file)
    assert file.exists()


def test_the_learned_fraction_without_a_gap_is_nan_without_a_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.isnan(results.learned_fraction(0.4, 0.6, 0.6))
        assert np.isnan(results.learned_fraction(0.6, 0.6, 0.6))


def test_an_oversized_result_is_named_with_its_size_and_the_cap(tmp_path, monkeypatch):
    path = tmp_path / "result.json"
    path.write_text("{}" + " " * (3 * 2**20))
    monkeypatch.setattr(results, "MAX_RESULT_BYTES", 2**20)
    with pytest.raises(results.UnreadableResult) as raised:
        results.read_result(path)
    assert str(raised.value) == "result.json is 3 MiB, over the 1 MiB cap"
    monkeypatch.setattr(results, "MAX_RESULT_BYTES", path.stat().st_size)  # exactly at the cap: read
    assert results.read_result(path) == {}


def test_an_unreadable_result_is_named_with_the_first_line_of_why(tmp_path, monkeypatch):
    path = tmp_path / "result.json"
    path.write_text('{"a": ')
    with pytest.raises(results.UnreadableResult) as raised:
        results.read_result(path)
    assert str(raised.value) == "result.json unreadable: Expecting value: line 1 column 7 (char 6)"

    def refuse(error):
        def open_(*args, **kwargs):
            raise error

        monkeypatch.setattr(results, "open", open_, raising=False)
        with pytest.raises(results.UnreadableResult) as raised:
            results.read_result(path)
        return str(raised.value)

    assert refuse(OSError("x" * 200 + "\nsecond line")) == "result.json unreadable: " + "x" * 120
    assert refuse(PermissionError()) == "result.json unreadable: PermissionError"
