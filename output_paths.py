"""Can this file be written? Checked before any work, so a bad --out never costs a tracked clip.

One check for every command and operator that saves (the CLI's --out/--preview/--markdown, the
retarget Save Mapping operator): the right extension, not a folder, and a folder that exists or can
be made and takes a new file. Pure Python (no bpy, no numpy), so the extension, the command line and
the backend share it. Nothing is created: a folder that is missing stays missing until the writer
makes it, and the probe file used to test writability is removed at once.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .errors import OutputFileError


def check_output_file(path, suffixes: str | tuple[str, ...], what: str = "--out") -> Path:
    """`path` as a Path, once it is known that a file with one of `suffixes` can be written there.

    suffixes: ".blend" or (".json", ...), compared case-insensitively; () accepts any name.
    what: how the user named the path ("--out", "--preview", "the mapping file"), for the message.
    Raises OutputFileError, one sentence, when the name has the wrong extension, names a folder, or
    its folder cannot be made or written (a file in the way, no permission, a read-only disk).
    """
    path = Path(path).expanduser()
    suffixes = (suffixes,) if isinstance(suffixes, str) else tuple(suffixes)
    if path.is_dir() or str(path).endswith(("/", os.sep)):
        name = f"a {' or '.join(suffixes)} file" if suffixes else "a file"
        raise OutputFileError(f"{what} {path} is a folder; expected {name} to write (a name inside it)")
    if suffixes and path.suffix.lower() not in {s.lower() for s in suffixes}:
        raise OutputFileError(f"{what} must name a {' or '.join(suffixes)} file; got {path.name}")
    if path.exists() and not os.access(path, os.W_OK):
        raise OutputFileError(f"cannot write {what} {path}: the file exists and is read-only")
    check_output_folder(path.parent, what, target=path)
    return path


def check_output_folder(folder, what: str = "--out", target=None) -> Path:
    """`folder` as a Path, once it is known that it exists or can be made, and takes new files.

    target: the file that will be written there, named in the message instead of the folder.
    Raises OutputFileError naming the first part of the path that is in the way.
    """
    folder = Path(folder).expanduser()
    shown = f"{what} {target if target is not None else folder}"
    existing = folder.absolute()
    while not existing.exists():  # the nearest part of the path that is there (the rest gets made)
        if existing.parent == existing:
            break
        existing = existing.parent
    if not existing.is_dir():
        raise OutputFileError(f"cannot write {shown}: {existing} is a file, not a folder")
    if folder.exists() and not folder.is_dir():
        raise OutputFileError(f"cannot write {shown}: {folder} is a file, not a folder")
    why = _cannot_write_in(existing)
    if why:
        made = "" if existing == folder.absolute() else f" (to make {folder} in it)"
        raise OutputFileError(f"cannot write {shown}: the folder {existing} does not take new files{made}: {why}")
    return folder


def write_text_atomic(path, text: str) -> Path:
    """Write `text` (UTF-8) to `path` whole or not at all: a temporary file beside it, then a rename.

    Makes the folder when missing. Raises OutputFileError when the disk refuses (full, read-only).
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as err:
        raise OutputFileError(f"cannot write {path}: {err.strerror or err}") from None
    return path


def _cannot_write_in(folder: Path) -> str | None:
    """Why a new file cannot be made in the existing `folder`, or None. A real probe file, since
    os.access misses read-only mounts, Windows ACLs and network shares."""
    try:
        fd, probe = tempfile.mkstemp(prefix=".maskhand-write-test-", dir=folder)
    except OSError as err:
        return err.strerror or type(err).__name__
    os.close(fd)
    try:
        os.unlink(probe)
    except OSError:
        pass
    return None
