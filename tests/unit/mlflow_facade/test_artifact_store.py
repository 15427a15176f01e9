"""The MLflow facade's artifact paths and its directory store (what `skytune local` uses)."""
from __future__ import annotations

import pytest

from skytune_mlflow.artifacts import BadPath, DirectoryArtifacts, checked_key


@pytest.mark.parametrize("path", ["../x", "a/../../etc/passwd", "", "/", "a\\b", "a/\x00b"])
def test_paths_that_could_leave_the_store_are_refused(path):
    with pytest.raises(BadPath):
        checked_key(path)


def test_the_directory_store_writes_lists_and_reads(tmp_path):
    store = DirectoryArtifacts(tmp_path)
    key = checked_key("/exp/R1/artifacts/model/weights.bin")
    assert key == "exp/R1/artifacts/model/weights.bin"
    store.put(key, b"\x00\x01binary")
    store.put("exp/R1/artifacts/notes.txt", b"hi")
    assert store.get(key) == b"\x00\x01binary" and store.get("exp/R1/artifacts/none") is None
    assert store.list("exp/R1/artifacts") == [{"path": "model", "is_dir": True},
                                              {"path": "notes.txt", "is_dir": False, "file_size": 2}]
    assert store.list("exp/R2/artifacts") == []
