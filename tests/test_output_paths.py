"""What an atomic write does to what is already at its path (issue 23): a symlink is followed, a file keeps its
mode, a read-only file is refused unless asked, a device is written through, not replaced, and the temporary files
of an interrupted write do not stay forever."""

import os
import stat
import time
from pathlib import Path

import pytest

from cam_lib.errors import BadInputError
from cam_lib.io import STALE_TEMP_SECONDS, atomic_write_text


def test_a_symlink_is_followed_and_stays_a_link(tmp_path):
    target, link = tmp_path / "real.json", tmp_path / "link.json"
    target.write_text("old")
    link.symlink_to(target)
    atomic_write_text(link, "new")
    assert link.is_symlink() and target.read_text() == "new" and link.read_text() == "new"


def test_a_file_keeps_its_mode_and_a_read_only_one_is_refused(tmp_path):
    out = tmp_path / "out.json"
    out.write_text("old")
    out.chmod(0o640)
    atomic_write_text(out, "new")
    assert stat.S_IMODE(out.stat().st_mode) == 0o640 and out.read_text() == "new"
    out.chmod(0o440)   # no write bit for anyone: refused even for root, whom os.access lets write anything
    with pytest.raises(BadInputError, match="out.json: the file is read-only"):
        atomic_write_text(out, "newer")
    assert out.read_text() == "new"
    atomic_write_text(out, "asked", overwrite_read_only=True)
    assert out.read_text() == "asked" and stat.S_IMODE(out.stat().st_mode) == 0o440


def test_a_character_device_is_written_through_not_replaced():
    devnull = Path(os.devnull)
    assert atomic_write_text(devnull, "{}") == devnull
    assert stat.S_ISCHR(devnull.stat().st_mode)


def test_a_folder_is_refused(tmp_path):
    with pytest.raises(BadInputError, match="not a regular file"):
        atomic_write_text(tmp_path, "x")


def test_stale_temporary_files_are_removed_and_live_ones_kept(tmp_path):
    out = tmp_path / "r.json"
    stale, live = tmp_path / ".r.json.abc123.tmp", tmp_path / ".r.json.def456.tmp"
    stale.write_text("half")
    live.write_text("being written")
    old = time.time() - STALE_TEMP_SECONDS - 60
    os.utime(stale, (old, old))
    atomic_write_text(out, "done")
    assert not stale.exists() and live.exists() and out.read_text() == "done"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".r.json.def456.tmp", "r.json"]
