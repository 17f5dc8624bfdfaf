"""The backend's own environment: the Install Backend button's Python discovery, platform check and pip steps.

Apart from the client (blender/backend_client.py) because it is another job: the client talks to a
running backend; this makes the environment that backend runs in. No bpy in here either, so it
runs and is tested in any Python. Every function that looks at the machine takes the platform, the
environment variables and the home folder as parameters (defaulting to this machine's), so tests
give it fake file trees and fake platforms instead of patching the real system.

Steps of an install: find a Python 3.11 (python_candidates, find_python), check its platform
against the pinned wheels (platform_problem) before anything is downloaded, then plan_install:
create or reuse the venv in the user data folder (user_env_dir), install torch in the chosen build
(torch_step: CPU or CUDA, where PyTorch publishes both), then backend_requirements.txt; a stamp
(maskhand-env.json) records what went in, so a compatible environment is reused.
"""
from __future__ import annotations

import collections
import json
import os
import queue
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import BackendError
from .backend_client import PACKAGE_ROOT, STDERR_LINES

REQUIREMENTS = PACKAGE_ROOT / "backend_requirements.txt"
WANT = (3, 11)  # the backend's Python: Blender 4.2-4.5's own minor version, and the wheels' cp311
ENV_NAME = "backend-py311"
STAMP_NAME = "maskhand-env.json"
TORCH_BUILDS = ("cpu", "cuda")
# PyTorch's own wheel indexes. CUDA 12.6 is the CUDA build with the widest reach: its wheels still
# carry kernels for older GPUs (Maxwell/Pascal/Volta) that the 12.8+ builds dropped, and any NVIDIA
# driver from 560 on runs it.
PYTORCH_INDEX = {"cpu": "https://download.pytorch.org/whl/cpu", "cuda": "https://download.pytorch.org/whl/cu126"}
TORCH_LOCAL = {"cpu": "cpu", "cuda": "cu126"}  # the local version label of each index's wheels
# What the pinned wheels need, read from PyPI's file lists (pip install --dry-run --only-binary=:all:
# --platform ... for torch==2.13.0 and mediapipe==0.10.21): torch has win_amd64, manylinux_2_28
# x86_64 and aarch64, macosx_14_0_arm64; mediapipe has win_amd64, manylinux_2_28_x86_64, macOS
# universal2 (11.0+). Neither has Windows on ARM; torch has no Intel Mac, mediapipe no Linux aarch64.
MIN_GLIBC = (2, 28)
MIN_MACOS = (14, 0)
SUPPORTED = "Windows x64, Linux x86-64 (glibc 2.28+) or an Apple silicon Mac with macOS 14+"
NO_BACKEND_NEEDED = "the rig, MANO import and retargeting tools work without it"

# The probe a candidate runs: who it is, and whether it can make venvs.
_PROBE = ("import json, platform, sys, venv; print(json.dumps({'executable': sys.executable, "
          "'version': list(sys.version_info[:2]), 'platform': sys.platform, 'machine': platform.machine(), "
          "'mac': platform.mac_ver()[0], 'libc': list(platform.libc_ver())}))")


@dataclass(frozen=True)
class Candidate:
    """A place a Python may be. argv: how to run it (a path, or the Windows launcher with "-3.11");
    how: where it was found, for messages ("Homebrew", "pyenv", "the py launcher", ...)."""
    argv: tuple[str, ...]
    how: str


@dataclass(frozen=True)
class PythonInfo:
    """What a candidate reported about itself (the probe). version: (major, minor); platform:
    sys.platform; machine: platform.machine() ("x86_64", "AMD64", "arm64", "aarch64"); mac: macOS
    version or ""; libc: ("glibc", "2.35") on glibc Linux, ("", "") elsewhere."""
    executable: str
    version: tuple[int, int]
    platform: str
    machine: str
    mac: str = ""
    libc: tuple[str, str] = ("", "")
    how: str = ""


def env_python(env_dir, platform: str = sys.platform) -> Path:
    """The interpreter inside a venv folder."""
    env_dir = Path(env_dir)
    return env_dir / "Scripts" / "python.exe" if platform == "win32" else env_dir / "bin" / "python"


def user_env_dir(platform: str = sys.platform, env: Mapping[str, str] | None = None, home=None) -> Path:
    """Where Install Backend keeps its environment: the platform's user data folder, outside
    Blender's versioned folders, so a Blender upgrade reuses it (2.2 GiB that need not download again).

    Linux: $XDG_DATA_HOME/maskhand/backend-py311 (~/.local/share/...); Windows:
    %LOCALAPPDATA%\\MaskHand\\backend-py311; macOS: ~/Library/Application Support/MaskHand/backend-py311.
    """
    env = os.environ if env is None else env
    home = Path(home) if home is not None else Path.home()
    if platform == "win32":
        base = Path(env["LOCALAPPDATA"]) if env.get("LOCALAPPDATA") else home / "AppData" / "Local"
        return base / "MaskHand" / ENV_NAME
    if platform == "darwin":
        return home / "Library" / "Application Support" / "MaskHand" / ENV_NAME
    base = Path(env["XDG_DATA_HOME"]) if env.get("XDG_DATA_HOME") else home / ".local" / "share"
    return base / "maskhand" / ENV_NAME


# -- finding a Python 3.11 -----------------------------------------------------------------------------------
def python_candidates(chosen=None, *, platform: str = sys.platform, env: Mapping[str, str] | None = None,
                      home=None, root="/", running: tuple[str | None, ...] | None = None,
                      prefixes: tuple[str, ...] | None = None,
                      which: Callable[[str], str | None] | None = None) -> list[Candidate]:
    """Where a Python 3.11 may be, best first; only places that exist (files are not run here).

    chosen: the preference's path: when given it is the only candidate (the user decided).
    Otherwise: the running interpreter (inside Blender 4.5 its bundled python3.11) and the one it was
    made from, binaries under its prefixes, the Windows `py -3.11` launcher, PATH, then where users
    install Python: python.org (macOS framework, Windows per-user and all-users), Homebrew
    (/opt/homebrew, /usr/local), the system (/usr/bin), pyenv (and pyenv-win), conda (miniconda3,
    anaconda3, miniforge3, mambaforge, their envs, $CONDA_PREFIX), uv. Blender started from the
    Finder or a desktop icon has a minimal PATH, hence the fixed places.
    platform/env/home/root/running/prefixes/which: this machine's by default; tests pass fakes
    (root: the file system root the fixed POSIX places hang from).
    """
    env = os.environ if env is None else env
    home = Path(home) if home is not None else Path.home()
    root = Path(root)
    win = platform == "win32"
    if chosen:
        return [Candidate((str(chosen),), "the Python chosen in the preferences")]
    if running is None:
        running = (sys.executable, getattr(sys, "_base_executable", None))
    if prefixes is None:
        prefixes = tuple(dict.fromkeys((sys.prefix, sys.base_prefix)))
    if which is None:
        def which(name):
            return shutil.which(name, path=env.get("PATH", ""))  # "" (no PATH): nothing found

    found: list[tuple[Path | tuple[str, ...], str]] = []
    for value in running:
        if value:
            found.append((Path(value), "the running Python (Blender's own inside Blender)"))
    for prefix in prefixes:
        base = Path(prefix)
        found += [(base / "bin" / "python3.11", "Blender's own Python"), (base / "bin" / "python3", "Blender's own Python"),
                  (base / "python.exe", "Blender's own Python")]
    if win:
        launchers = [which("py")]
        if env.get("SystemRoot"):
            launchers.append(str(Path(env["SystemRoot"]) / "py.exe"))
        if env.get("LOCALAPPDATA"):
            launchers.append(str(Path(env["LOCALAPPDATA"]) / "Programs" / "Python" / "Launcher" / "py.exe"))
        for launcher in launchers:
            if launcher and Path(launcher).is_file():
                found.append(((launcher, f"-{WANT[0]}.{WANT[1]}"), "the py launcher"))
    for name in ("python3.11", "python3", "python"):
        hit = which(name)
        if hit:
            found.append((Path(hit), "PATH"))

    v = f"{WANT[0]}.{WANT[1]}"
    exe = "python.exe" if win else f"python{v}"
    if win:
        for var, sub, how in (("LOCALAPPDATA", ("Programs", "Python", f"Python{WANT[0]}{WANT[1]}"), "python.org"),
                              ("ProgramFiles", (f"Python{WANT[0]}{WANT[1]}",), "python.org"),
                              ("LOCALAPPDATA", ("Microsoft", "WindowsApps"), "the Microsoft Store")):
            if env.get(var):
                name = f"python{v}.exe" if how == "the Microsoft Store" else "python.exe"
                found.append((Path(env[var]).joinpath(*sub, name), how))
    else:
        found += [(root / "Library/Frameworks/Python.framework/Versions" / v / "bin" / exe, "python.org"),
                  (root / "opt/homebrew/bin" / exe, "Homebrew"),
                  (root / "opt/homebrew/opt" / f"python@{v}" / "bin" / exe, "Homebrew"),
                  (root / "usr/local/bin" / exe, "/usr/local"),
                  (root / "usr/local/opt" / f"python@{v}" / "bin" / exe, "Homebrew"),
                  (root / "usr/bin" / exe, "the system")]
    # pyenv: every 3.11.x it built, newest first.
    if win:
        pyenv = Path(env["PYENV"]) if env.get("PYENV") else home / ".pyenv" / "pyenv-win"
        found += [(p / "python.exe", "pyenv-win") for p in _newest_first(pyenv / "versions", f"{v}.*")]
    else:
        pyenv = Path(env["PYENV_ROOT"]) if env.get("PYENV_ROOT") else home / ".pyenv"
        found += [(p / "bin" / exe, "pyenv") for p in _newest_first(pyenv / "versions", f"{v}.*")]
    # conda: the active env, then each installation's base and its envs (any of them may be 3.11).
    in_env = (lambda d: d / "python.exe") if win else (lambda d: d / "bin" / exe)
    if env.get("CONDA_PREFIX"):
        found.append((in_env(Path(env["CONDA_PREFIX"])), "conda"))
    conda_roots = [home / n for n in ("miniconda3", "anaconda3", "miniforge3", "mambaforge")]
    if not win:
        conda_roots += [root / "opt" / n for n in ("miniconda3", "anaconda3", "miniforge3")]
    for base in conda_roots:
        found.append((in_env(base), "conda"))
        found += [(in_env(d), "conda") for d in sorted((base / "envs").glob("*")) if d.is_dir()]
    # uv's managed Pythons.
    uv = (Path(env["APPDATA"]) / "uv" / "python" if win and env.get("APPDATA")
          else home / ".local" / "share" / "uv" / "python")
    found += [(in_env(d) if not win else d / "python.exe", "uv") for d in _newest_first(uv, f"cpython-{v}.*")]

    out, seen = [], set()
    for where, how in found:
        argv = where if isinstance(where, tuple) else (str(where),)
        if argv in seen:
            continue
        if not isinstance(where, tuple):
            if not where.is_file() or where.name.lower().startswith("blender"):
                continue
        seen.add(argv)
        out.append(Candidate(argv, how))
    return out


def _newest_first(folder: Path, pattern: str) -> list[Path]:
    """Sub-folders of `folder` matching `pattern` ("3.11.*"), highest version first (3.11.10 > 3.11.9)."""
    def key(p: Path):
        return [int(x) if x.isdigit() else -1 for x in p.name.replace("-", ".").split(".") if x]
    if not folder.is_dir():
        return []
    return sorted((p for p in folder.glob(pattern) if p.is_dir()), key=key, reverse=True)


def probe_python(argv, timeout: float = 30.0) -> PythonInfo | None:
    """Run the candidate and ask who it is; None when it is not a Python that can make venvs."""
    try:
        out = subprocess.run([*map(str, argv), "-c", _PROBE], capture_output=True, text=True, timeout=timeout,
                             env={k: v for k, v in os.environ.items() if k not in ("PYTHONHOME", "PYTHONPATH")},
                             creationflags=getattr(subprocess, "CREATE_NO_WINDOW", 0))
    except (OSError, subprocess.TimeoutExpired):
        return None
    try:
        info = json.loads(out.stdout.strip().splitlines()[-1]) if out.returncode == 0 else None
        return PythonInfo(executable=info["executable"], version=tuple(info["version"][:2]),
                          platform=info["platform"], machine=info["machine"], mac=info["mac"],
                          libc=tuple(info["libc"]))
    except (TypeError, ValueError, KeyError, IndexError):
        return None


def python_version(executable, timeout: float = 30.0) -> tuple[int, int] | None:
    """(major, minor) of a Python that can make venvs, or None when it is not one (or not Python at all)."""
    info = probe_python([executable], timeout)
    return info.version if info else None


def find_python(chosen=None, want=WANT, probe: Callable = probe_python, **where) -> PythonInfo:
    """The first candidate that is Python `want`, can make venvs and runs on a platform the pinned
    wheels exist for. Raises BackendError (one sentence) naming what was tried, or, when every
    Python 3.11 found is on an unsupported platform, what is unsupported and what to do instead.
    where: python_candidates' platform/env/home/root/... parameters (tests)."""
    tried, problem = [], None
    label = f"{want[0]}.{want[1]}"
    for cand in python_candidates(chosen, **where):
        info = probe(cand.argv)
        shown = " ".join(cand.argv)
        if info is None or info.version != tuple(want):
            got = "not a Python that can make environments" if info is None else \
                f"Python {info.version[0]}.{info.version[1]}"
            if chosen:
                raise BackendError(f"the Python chosen for Install Backend ({shown}) is {got}; expected Python "
                                   f"{label}", "BackendStartError")
            tried.append(f"{shown} ({'.'.join(map(str, info.version)) if info else 'not usable'})")
            continue
        info = PythonInfo(**{**info.__dict__, "how": cand.how})
        why = platform_problem(info.platform, info.machine, info.mac, info.libc)
        if why is None:
            return info
        problem = problem or f"{why} (the Python {label} found: {info.executable}, {cand.how})"
    if problem:
        raise BackendError(problem, "BackendStartError")
    if chosen:
        raise BackendError(f"the Python chosen for Install Backend ({chosen}) does not exist", "BackendStartError")
    raise BackendError(f"no Python {label} that can create environments was found (tried: "
                       f"{', '.join(tried) or 'nothing'}); install Python {label} (python.org, Homebrew, pyenv or "
                       f"conda) or choose one under Python for Install Backend in the preferences",
                       "BackendStartError")


def find_base_python(want=WANT) -> Path:
    """The executable of find_python's choice (kept for scripts and tests)."""
    return Path(find_python(want=want).executable)


# -- the platform against the pinned wheels ------------------------------------------------------------------
def _arch(machine: str) -> str:
    m = machine.lower()
    return {"amd64": "x86_64", "x64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}.get(m, m)


def _version(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(x) for x in text.split(".")[:2])
    except ValueError:
        return ()


def platform_problem(platform: str, machine: str, mac: str = "", libc=("", "")) -> str | None:
    """Why the pinned wheels (torch 2.13.0, mediapipe 0.10.21, both cp311) cannot be installed on
    this platform, and what to do instead, in one sentence; None when they can.

    platform: sys.platform; machine: platform.machine(); mac: platform.mac_ver()[0];
    libc: platform.libc_ver() (("glibc", "2.35"), or ("", "") on musl and non-Linux).
    """
    arch = _arch(machine)
    instead = f"run the estimation on {SUPPORTED}; {NO_BACKEND_NEEDED}"
    if platform == "win32":
        if arch == "x86_64":
            return None
        if arch == "arm64":
            return ("neither torch 2.13.0 nor mediapipe 0.10.21 publishes wheels for Windows on ARM, so the backend "
                    f"cannot be installed on this machine; {instead}")
    elif platform == "darwin":
        if arch == "arm64":
            if _version(mac) and _version(mac) < MIN_MACOS:
                return (f"torch 2.13.0's Mac wheels need macOS {MIN_MACOS[0]} or newer; this Mac runs macOS {mac}: "
                        f"update macOS, or {instead}")
            return None
        if arch == "x86_64":
            return ("torch 2.13.0 publishes no wheels for Intel Macs (x86_64), so the backend cannot run in this "
                    "Python; on an Apple silicon Mac use an arm64 Python 3.11 (python.org's universal2 installer, or "
                    f"Homebrew in /opt/homebrew) instead of one under Rosetta; on an Intel Mac, {instead}")
    elif platform.startswith("linux"):
        if arch == "arm64":
            return ("mediapipe 0.10.21 publishes no wheels for Linux on ARM (aarch64), so the backend cannot be "
                    f"installed on this machine; {instead}")
        if arch == "x86_64":
            name, version = (tuple(libc) + ("", ""))[:2]
            if name != "glibc":
                return ("the torch and mediapipe wheels need a glibc-based Linux (manylinux_2_28); this one has "
                        f"no glibc (musl, as on Alpine): use a glibc distribution, or {instead}")
            if _version(version) and _version(version) < MIN_GLIBC:
                return (f"the torch and mediapipe wheels need glibc {MIN_GLIBC[0]}.{MIN_GLIBC[1]} or newer "
                        f"(manylinux_2_28); this system has glibc {version}: use a newer distribution "
                        f"(Ubuntu 20.04, Debian 11, RHEL 8 or later), or {instead}")
            return None
    return (f"torch 2.13.0 and mediapipe 0.10.21 publish no wheels for {platform} on {machine}, so the backend "
            f"cannot be installed there; {instead}")


def torch_step(build: str, platform: str, machine: str, pin: str = "2.13.0") -> tuple[str, list[str]] | None:
    """The pip arguments that install torch `pin` in `build` ("cpu" | "cuda") before the other
    packages, or None when plain PyPI already gives that build (no separate step).

    Linux x86-64: PyPI's wheel is a CUDA build (with ~3 GiB of NVIDIA libraries), so CPU comes from
    PyTorch's CPU index, CUDA from its cu126 index. Windows x64: PyPI's wheel is CPU-only, so CUDA
    comes from the cu126 index. macOS: one build (Apple's GPU through MPS); there is no CUDA build.
    Returns (requirement, pip args): e.g. ("torch==2.13.0+cpu", ["--index-url", ".../whl/cpu"]).
    """
    if build not in TORCH_BUILDS:
        raise BackendError(f"unknown torch build {build!r}; expected one of {', '.join(TORCH_BUILDS)}",
                           "BackendStartError")
    arch = _arch(machine)
    if platform == "darwin":
        if build == "cuda":
            raise BackendError("PyTorch publishes no CUDA build for macOS; set Torch Build to CPU in the preferences "
                               "(on Apple silicon the backend still uses the GPU, through MPS)", "BackendStartError")
        return None
    if platform == "win32" and build == "cpu":
        return None
    if arch != "x86_64" and build == "cuda":
        raise BackendError(f"MaskHand installs torch's CUDA build on x86-64 only; this machine is {machine}: set "
                           "Torch Build to CPU", "BackendStartError")
    if arch != "x86_64":
        return None
    requirement = f"torch=={pin}+{TORCH_LOCAL[build]}"
    return requirement, ["--no-deps", "--index-url", PYTORCH_INDEX[build], requirement]


# -- the install itself --------------------------------------------------------------------------------------
def requirement_lines(requirements=REQUIREMENTS) -> list[str]:
    """The requirement lines of a requirements file, comments and blanks dropped."""
    lines = Path(requirements).read_text(encoding="utf-8").splitlines()
    return [ln.split("#", 1)[0].strip() for ln in lines if ln.split("#", 1)[0].strip()]


def pinned(name: str, requirements=REQUIREMENTS) -> str | None:
    """The `==` version of `name` in the requirements file, or None."""
    for line in requirement_lines(requirements):
        head, sep, version = line.partition("==")
        if sep and head.strip().lower() == name.lower():
            return version.strip()
    return None


def read_stamp(env_dir) -> dict | None:
    """What the last successful install recorded in `env_dir`, or None (no stamp, or unreadable)."""
    try:
        stamp = json.loads((Path(env_dir) / STAMP_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return stamp if isinstance(stamp, dict) else None


@dataclass
class InstallPlan:
    """What Install Backend will run (steps: (label, argv), in order) and the stamp to write when
    they all succeed (finish). reused: a sentence when an existing environment is kept, else None."""
    env_dir: Path
    steps: list[tuple[str, list[str]]]
    stamp: dict
    reused: str | None = None
    notes: list[str] = field(default_factory=list)

    def finish(self) -> Path:
        """Record the finished install (the stamp), so the next press reuses the environment."""
        path = self.env_dir / STAMP_NAME
        path.write_text(json.dumps(self.stamp, indent=1) + "\n", encoding="utf-8")
        return path


def plan_install(env_dir, base: PythonInfo, torch_build: str = "cpu", requirements=REQUIREMENTS) -> InstallPlan:
    """The steps that make `env_dir` hold the backend's packages from the Python `base`.

    A venv there made by the same Python minor version is reused: only what changed is installed
    (pip leaves satisfied requirements alone, offline); one from another version, or a folder without
    a working interpreter, is recreated (venv --clear). torch goes first in the chosen build (torch_step),
    with --no-deps so only torch itself comes from PyTorch's index; the requirements then add its
    dependencies from PyPI.
    """
    env_dir = Path(env_dir)
    lines = requirement_lines(requirements)
    stamp = {"format": 1, "python": f"{base.version[0]}.{base.version[1]}", "platform": base.platform,
             "machine": base.machine, "torch_build": torch_build, "requirements": lines,
             "base_python": base.executable}
    torch = torch_step(torch_build, base.platform, base.machine, pinned("torch", requirements) or "2.13.0")
    old = read_stamp(env_dir)
    python = env_python(env_dir, base.platform)
    same_python = old is not None and old.get("python") == stamp["python"] and python.is_file()
    steps, reused = [], None
    if not same_python:
        fresh = python.is_file() or (env_dir.is_dir() and any(env_dir.iterdir()))
        steps.append(("Creating the backend environment",
                      [base.executable, "-m", "venv", *(["--clear"] if fresh else []), str(env_dir)]))
    else:
        same = all(old.get(k) == stamp[k] for k in ("torch_build", "requirements"))
        reused = (f"reusing the backend environment in {env_dir} (Python {stamp['python']}"
                  + (", the same packages: only checking them)" if same else "; updating its packages)"))
    if torch is not None and not (same_python and old.get("torch_build") == torch_build):
        requirement, args = torch
        steps.append((f"Installing {requirement} ({torch_build.upper()} build, from PyTorch's index)",
                      [str(python), "-m", "pip", "install", "--disable-pip-version-check", "--no-input",
                       "--progress-bar", "off", *args]))
    steps.append(("Installing the backend packages (torch, MediaPipe: a large download)",
                  [str(python), "-m", "pip", "install", "--disable-pip-version-check", "--no-input",
                   "--progress-bar", "off", "-r", str(requirements)]))
    return InstallPlan(env_dir, steps, stamp, reused)


def install_steps(env_dir, base_python, requirements=REQUIREMENTS) -> list[tuple[str, list[str]]]:
    """The commands that fill `env_dir` from the interpreter `base_python`, no torch build chosen
    (whatever PyPI gives): (label, argv) pairs, to run in order. Install Backend uses plan_install."""
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
