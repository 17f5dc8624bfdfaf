"""The backend's own environment: the Install Backend button's Python discovery and pip steps.

Apart from the client (blender/backend_client.py) because it is another job: the client talks to a
running backend; this makes the environment that backend runs in. No bpy in here either, so it
runs and is tested in any Python.
"""
from __future__ import annotations

import collections
import os
import queue
import shutil
import subprocess
import sys
import threading
from pathlib import Path

from ..errors import BackendError
from .backend_client import PACKAGE_ROOT, STDERR_LINES

REQUIREMENTS = PACKAGE_ROOT / "backend_requirements.txt"


def env_python(env_dir) -> Path:
    """The interpreter inside a venv folder."""
    env_dir = Path(env_dir)
    return env_dir / "Scripts" / "python.exe" if os.name == "nt" else env_dir / "bin" / "python"


def python_version(executable, timeout: float = 30.0) -> tuple[int, int] | None:
    """(major, minor) of a Python that can make venvs, or None when it is not one (or not Python at all)."""
    probe = "import sys, venv; print(*sys.version_info[:2])"
    try:
        out = subprocess.run([str(executable), "-c", probe], capture_output=True, text=True, timeout=timeout,
                             env={k: v for k, v in os.environ.items() if k != "PYTHONHOME"},
                             creationflags=getattr(subprocess, "CREATE_NO_WINDOW", 0))
    except (OSError, subprocess.TimeoutExpired):
        return None
    parts = out.stdout.split()
    if out.returncode != 0 or len(parts) != 2 or not all(p.isdigit() for p in parts):
        return None
    return int(parts[0]), int(parts[1])


def base_python_candidates() -> list[Path]:
    """Where a Python 3.11 may be, best first. Inside Blender 4.5, sys.executable is its bundled
    python3.11 (<blender>/4.5/python/bin/python3.11, or python.exe on Windows); older builds and the
    bpy module may report the blender binary or a venv, hence the others: the interpreter a venv was
    made from (sys._base_executable), binaries under sys.prefix / sys.base_prefix, then PATH."""
    found = []
    for name in ("executable", "_base_executable"):
        value = getattr(sys, name, None)
        if value:
            found.append(Path(value))
    for prefix in dict.fromkeys((sys.prefix, sys.base_prefix)):
        base = Path(prefix)
        found += [base / "bin" / "python3.11", base / "bin" / "python3", base / "python.exe"]
    for name in ("python3.11", "python3", "python"):
        which = shutil.which(name)
        if which:
            found.append(Path(which))
    unique, seen = [], set()
    for path in found:
        key = str(path)
        if key not in seen and path.is_file() and not path.name.lower().startswith("blender"):
            seen.add(key)
            unique.append(path)
    return unique


def find_base_python(want=(3, 11)) -> Path:
    """A Python `want` that can make a venv; BackendError naming what was tried when there is none."""
    tried = []
    for path in base_python_candidates():
        version = python_version(path)
        if version == tuple(want):
            return path
        tried.append(f"{path} ({'.'.join(map(str, version)) if version else 'not usable'})")
    raise BackendError(f"no Python {want[0]}.{want[1]} that can create environments was found (tried: "
                       f"{', '.join(tried) or 'nothing'}); install Python {want[0]}.{want[1]} or point the "
                       f"preferences to an existing environment", "BackendStartError")


def install_steps(env_dir, base_python, requirements=REQUIREMENTS) -> list[tuple[str, list[str]]]:
    """The commands that fill `env_dir`: (label, argv) pairs, to run in order."""
    steps = []
    python = env_python(env_dir)
    if not python.is_file():
        steps.append(("Creating the backend environment", [str(base_python), "-m", "venv", str(env_dir)]))
    steps.append(("Installing the backend packages (torch, MediaPipe: a large download)",
                  [str(python), "-m", "pip", "install", "--disable-pip-version-check", "--no-input",
                   "--progress-bar", "off", "-r", str(requirements)]))
    return steps


class StreamedProcess:
    """A command whose output lines (stdout and stderr merged) arrive in a queue as it runs, so a
    modal operator can show them without blocking."""

    def __init__(self, argv: list[str]):
        self.argv = argv
        self.lines: collections.deque = collections.deque(maxlen=STDERR_LINES)
        self._queue: queue.Queue = queue.Queue()
        env = {k: v for k, v in os.environ.items() if k != "PYTHONHOME"}
        env.update(PYTHONUNBUFFERED="1", PIP_NO_INPUT="1")
        try:
            self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, env=env,
                                         creationflags=getattr(subprocess, "CREATE_NO_WINDOW", 0))
        except OSError as err:
            raise BackendError(f"cannot run {argv[0]}: {err.strerror or err}", "BackendStartError") from err
        threading.Thread(target=self._read, name="maskhand-install", daemon=True).start()

    def _read(self):
        for raw in iter(self.proc.stdout.readline, b""):
            self._queue.put(raw.decode("utf-8", errors="replace").rstrip())
        self.proc.stdout.close()

    def new_lines(self) -> list[str]:
        out = []
        while True:
            try:
                line = self._queue.get_nowait()
            except queue.Empty:
                return out
            if line:
                out.append(line)
                self.lines.append(line)

    @property
    def returncode(self) -> int | None:
        return self.proc.poll()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
