"""Atomic writes: all or nothing, no temporary files left, ordinary permissions."""

import os
import stat

import pandas as pd
import pytest

from made.io import atomic_path, write_csv, write_json, write_text


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "metrics.json"
    write_json(target, {"nll": 1.0})
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half a fi")
            raise RuntimeError("killed midway")
    assert target.read_text() == '{\n  "nll": 1.0\n}\n'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json"]


def test_writes_create_folders_and_replace_in_one_step(tmp_path):
    target = tmp_path / "a" / "b" / "t.csv"
    write_csv(target, pd.DataFrame(dict(x=[1, 2])))
    write_csv(target, pd.DataFrame(dict(x=[3])))
    assert target.read_text() == "x\n3\n"
    assert sorted(p.name for p in target.parent.iterdir()) == ["t.csv"]


def test_new_files_follow_the_umask_and_replaced_files_keep_their_mode(tmp_path):
    new = tmp_path / "new.txt"
    write_text(new, "x")
    umask = os.umask(0o022)
    os.umask(umask)
    assert mode(new) == 0o666 & ~umask  # not mkstemp's 0600
    kept = tmp_path / "kept.txt"
    kept.write_text("old")
    kept.chmod(0o640)
    write_text(kept, "new")
    assert mode(kept) == 0o640 and kept.read_text() == "new"
