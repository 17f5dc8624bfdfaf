"""output_paths.check_output_file: every command and operator that saves checks its target before any
work (issue 16). Pure Python: a folder as target, a wrong extension, a file in the way of the folder,
read-only folders, and nothing left behind by the check."""
import os
import stat

import pytest

from maskhand.errors import MaskHandError, OutputFileError
from maskhand.output_paths import check_output_file, check_output_folder, write_text_atomic


def _listing(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


@pytest.mark.parametrize("name, suffixes, message", [
    ("adir", ".blend", "--out {tmp}/adir is a folder; expected a .blend file to write"),
    ("x.txt", ".blend", "--out must name a .blend file; got x.txt"),
    ("x.JSON.bak", (".json", ".md"), "--out must name a .json or .md file; got x.JSON.bak"),
    ("afile/x.blend", ".blend", "cannot write --out {tmp}/afile/x.blend: {tmp}/afile is a file, not a folder"),
    ("afile/deeper/x.blend", ".blend", "{tmp}/afile is a file, not a folder"),
])
def test_bad_targets_are_one_sentence_and_nothing_is_made(tmp_path, name, suffixes, message):
    (tmp_path / "adir").mkdir()
    (tmp_path / "afile").write_text("in the way")
    before = _listing(tmp_path)
    with pytest.raises(OutputFileError) as err:
        check_output_file(tmp_path / name, suffixes)
    assert message.format(tmp=tmp_path) in str(err.value) and "\n" not in str(err.value)
    assert isinstance(err.value, MaskHandError)
    assert _listing(tmp_path) == before


@pytest.mark.parametrize("name", ["x.blend", "new/deeper/x.blend", "X.BLEND"])
def test_good_targets_pass_and_make_nothing(tmp_path, name):
    assert check_output_file(tmp_path / name, ".blend") == tmp_path / name
    assert _listing(tmp_path) == []  # the missing folders are the writer's to make; no probe file is left


def test_an_existing_file_may_be_overwritten(tmp_path):
    (tmp_path / "x.json").write_text("{}")
    assert check_output_file(tmp_path / "x.json", ".json") == tmp_path / "x.json"


@pytest.mark.skipif(os.name == "nt" or os.geteuid() == 0, reason="root (CI) writes into read-only folders anyway")
def test_read_only_folder_is_refused(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        with pytest.raises(OutputFileError, match=f"the folder {ro} does not take new files"):
            check_output_file(ro / "x.blend", ".blend")
        with pytest.raises(OutputFileError, match=r"\(to make .*sub in it\)"):
            check_output_file(ro / "sub" / "x.blend", ".blend")
    finally:
        ro.chmod(stat.S_IRWXU)


def test_folder_check_for_train_all(tmp_path):
    (tmp_path / "afile").write_text("")
    assert check_output_folder(tmp_path / "weights") == tmp_path / "weights"
    with pytest.raises(OutputFileError, match="afile is a file, not a folder"):
        check_output_folder(tmp_path / "afile")
    with pytest.raises(OutputFileError, match="afile is a file, not a folder"):
        check_output_folder(tmp_path / "afile" / "weights")


def test_atomic_write_leaves_the_old_file_when_it_cannot_write(tmp_path):
    target = write_text_atomic(tmp_path / "sub" / "doc.json", '{"a": 1}')
    assert target.read_text() == '{"a": 1}' and _listing(tmp_path) == ["sub", "sub/doc.json"]
    (tmp_path / "afile").write_text("")
    with pytest.raises(OutputFileError, match="cannot write"):
        write_text_atomic(tmp_path / "afile" / "doc.json", "{}")
    assert (tmp_path / "afile").read_text() == ""
