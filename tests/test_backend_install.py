"""Install Backend's discovery, platform check, torch build and environment reuse (issue 16), on fake
file trees and fake platform values: every function takes the platform, environment, home and root
as parameters, so nothing here patches the real system. The real install is tests/test_install_backend.py."""
import sys
from pathlib import Path

import pytest

from maskhand.blender import backend_install as bi
from maskhand.errors import BackendError

NOWHERE = {"running": (), "prefixes": ()}  # leave this test process's own Python out of the fakes


def touch(path: Path, executable: bool = True) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!fake python\n")
    if executable:
        path.chmod(0o755)
    return path


def argv0(cands):
    return [(c.argv, c.how) for c in cands]


def test_macos_finds_python_org_homebrew_pyenv_and_conda_without_path(tmp_path):
    """Blender started from the Finder has a minimal PATH: the fixed places still count."""
    root, home = tmp_path / "root", tmp_path / "home"
    framework = touch(root / "Library/Frameworks/Python.framework/Versions/3.11/bin/python3.11")
    brew = touch(root / "opt/homebrew/bin/python3.11")
    intel_brew = touch(root / "usr/local/bin/python3.11")
    old, new = (touch(home / f".pyenv/versions/{v}/bin/python3.11") for v in ("3.11.4", "3.11.10"))
    touch(home / ".pyenv/versions/3.12.1/bin/python3.12")  # another minor: not a candidate
    conda_env = touch(home / "miniconda3/envs/hands/bin/python3.11")
    cands = bi.python_candidates(platform="darwin", env={"PATH": ""}, home=home, root=root, **NOWHERE)
    assert argv0(cands) == [((str(framework),), "python.org"), ((str(brew),), "Homebrew"),
                            ((str(intel_brew),), "/usr/local"), ((str(new),), "pyenv"), ((str(old),), "pyenv"),
                            ((str(conda_env),), "conda")]


def test_windows_finds_the_py_launcher_python_org_pyenv_win_and_conda(tmp_path):
    home, local = tmp_path / "home", tmp_path / "AppData" / "Local"
    launcher = touch(tmp_path / "Windows" / "py.exe")
    per_user = touch(local / "Programs/Python/Python311/python.exe")
    all_users = touch(tmp_path / "Program Files/Python311/python.exe")
    pyenv = touch(home / ".pyenv/pyenv-win/versions/3.11.9/python.exe")
    conda = touch(home / "anaconda3/python.exe")
    env = {"PATH": "", "SystemRoot": str(tmp_path / "Windows"), "LOCALAPPDATA": str(local),
           "ProgramFiles": str(tmp_path / "Program Files")}
    cands = bi.python_candidates(platform="win32", env=env, home=home, root=tmp_path / "none", **NOWHERE)
    assert argv0(cands) == [((str(launcher), "-3.11"), "the py launcher"), ((str(per_user),), "python.org"),
                            ((str(all_users),), "python.org"), ((str(pyenv),), "pyenv-win"), ((str(conda),), "conda")]


def test_linux_path_running_python_conda_prefix_and_uv_in_order(tmp_path):
    home, root = tmp_path / "home", tmp_path / "root"
    running = touch(tmp_path / "blender-4.5/4.5/python/bin/python3.11")
    blender = touch(tmp_path / "blender-4.5/blender")  # Blender's binary reported as sys.executable: skipped
    on_path = touch(tmp_path / "bin" / "python3")
    system = touch(root / "usr/bin/python3.11")
    active = touch(tmp_path / "envs/active/bin/python3.11")
    uv = touch(home / ".local/share/uv/python/cpython-3.11.13-linux-x86_64-gnu/bin/python3.11")
    cands = bi.python_candidates(platform="linux", env={"PATH": str(tmp_path / "bin"),
                                                        "CONDA_PREFIX": str(tmp_path / "envs/active")},
                                 home=home, root=root, running=(str(blender), str(running)), prefixes=())
    assert [c.argv[0] for c in cands] == [str(running), str(on_path), str(system), str(active), str(uv)]
    assert [c.how for c in cands][-2:] == ["conda", "uv"]


def test_a_chosen_python_is_the_only_candidate_and_must_be_311(tmp_path):
    chosen = touch(tmp_path / "my/python3.11")
    assert argv0(bi.python_candidates(chosen, platform="linux", env={}, home=tmp_path, root=tmp_path)) == [
        ((str(chosen),), "the Python chosen in the preferences")]
    with pytest.raises(BackendError, match=r"the Python chosen for Install Backend \(.*\) is Python 3.12; "
                                           r"expected Python 3.11"):
        bi.find_python(str(chosen), probe=lambda argv: _info(version=(3, 12)), platform="linux", env={},
                       home=tmp_path, root=tmp_path)


def _info(version=(3, 11), platform="darwin", machine="arm64", mac="14.5", libc=("", ""), executable="/x"):
    return bi.PythonInfo(executable=executable, version=version, platform=platform, machine=machine, mac=mac,
                         libc=libc)


def test_find_python_skips_other_versions_and_rosetta_pythons(tmp_path):
    """The first 3.11 runs under Rosetta (x86_64 on a Mac): torch has no wheel for it; the arm64 one wins."""
    root = tmp_path / "root"
    framework = touch(root / "Library/Frameworks/Python.framework/Versions/3.11/bin/python3.11")
    rosetta = touch(root / "usr/local/bin/python3.11")
    brew = touch(root / "opt/homebrew/bin/python3.11")
    reports = {str(framework): _info(version=(3, 10), executable=str(framework)),
               str(brew): _info(machine="x86_64", executable=str(brew)),
               str(rosetta): _info(executable=str(rosetta))}
    where = dict(platform="darwin", env={}, home=tmp_path / "home", root=root, **NOWHERE)
    found = bi.find_python(probe=lambda argv: reports[argv[0]], **where)
    assert (found.executable, found.how) == (str(rosetta), "/usr/local")
    reports[str(rosetta)] = _info(machine="x86_64", executable=str(rosetta))
    with pytest.raises(BackendError, match="no wheels for Intel Macs .* instead of one under Rosetta"):
        bi.find_python(probe=lambda argv: reports[argv[0]], **where)


def test_no_python_311_names_what_was_tried(tmp_path):
    py = touch(tmp_path / "root/usr/bin/python3.11")
    with pytest.raises(BackendError, match=rf"no Python 3.11 .*tried: {py} \(3.9\)\); install Python 3.11"):
        bi.find_python(probe=lambda argv: _info(version=(3, 9)), platform="linux", env={}, home=tmp_path,
                       root=tmp_path / "root", **NOWHERE)
    with pytest.raises(BackendError, match=r"tried: nothing"):
        bi.find_python(probe=lambda argv: None, platform="linux", env={}, home=tmp_path, root=tmp_path / "x",
                       **NOWHERE)


def test_probe_reads_a_real_python_and_refuses_a_non_python(tmp_path):
    info = bi.probe_python([sys.executable])
    assert info.version == (3, 11) and info.platform == sys.platform and info.machine
    assert bi.python_version(sys.executable) == (3, 11)
    assert bi.probe_python([str(touch(tmp_path / "python3.11"))]) is None
    assert bi.probe_python([str(tmp_path / "missing")]) is None


@pytest.mark.parametrize("platform, machine, mac, libc, problem", [
    ("win32", "AMD64", "", ("", ""), None),
    ("win32", "ARM64", "", ("", ""), "neither torch 2.13.0 nor mediapipe 0.10.21 publishes wheels for Windows on ARM"),
    ("darwin", "arm64", "14.5", ("", ""), None),
    ("darwin", "arm64", "13.6.1", ("", ""), "need macOS 14 or newer; this Mac runs macOS 13.6.1"),
    ("darwin", "x86_64", "14.5", ("", ""), "torch 2.13.0 publishes no wheels for Intel Macs"),
    ("linux", "x86_64", "", ("glibc", "2.35"), None),
    ("linux", "x86_64", "", ("glibc", "2.17"), "need glibc 2.28 or newer (manylinux_2_28); this system has glibc 2.17"),
    ("linux", "x86_64", "", ("", ""), "no glibc (musl"),
    ("linux", "aarch64", "", ("glibc", "2.35"), "mediapipe 0.10.21 publishes no wheels for Linux on ARM"),
    ("freebsd14", "amd64", "", ("", ""), "publish no wheels for freebsd14 on amd64"),
])
def test_platform_against_the_pinned_wheels(platform, machine, mac, libc, problem):
    got = bi.platform_problem(platform, machine, mac, libc)
    if problem is None:
        assert got is None
    else:
        assert problem in got and bi.NO_BACKEND_NEEDED in got and "\n" not in got, got


@pytest.mark.parametrize("build, platform, machine, expected", [
    ("cpu", "linux", "x86_64", ("torch==2.13.0+cpu", "https://download.pytorch.org/whl/cpu")),
    ("cuda", "linux", "x86_64", ("torch==2.13.0+cu126", "https://download.pytorch.org/whl/cu126")),
    ("cpu", "win32", "AMD64", None),  # PyPI's Windows wheel is the CPU build
    ("cuda", "win32", "AMD64", ("torch==2.13.0+cu126", "https://download.pytorch.org/whl/cu126")),
    ("cpu", "darwin", "arm64", None),  # one Mac build (MPS)
])
def test_torch_build_pip_arguments(build, platform, machine, expected):
    step = bi.torch_step(build, platform, machine, "2.13.0")
    if expected is None:
        assert step is None
    else:
        requirement, args = step
        assert requirement == expected[0] and args == ["--no-deps", "--index-url", expected[1], expected[0]]


@pytest.mark.parametrize("build, platform, machine, message", [
    ("cuda", "darwin", "arm64", "no CUDA build for macOS"),
    ("rocm", "linux", "x86_64", "unknown torch build 'rocm'"),
])
def test_torch_builds_that_do_not_exist_are_refused(build, platform, machine, message):
    with pytest.raises(BackendError, match=message):
        bi.torch_step(build, platform, machine)


@pytest.mark.parametrize("platform, env, expected", [
    ("linux", {}, "home/.local/share/maskhand/backend-py311"),
    ("linux", {"XDG_DATA_HOME": "{tmp}/xdg"}, "xdg/maskhand/backend-py311"),
    ("win32", {"LOCALAPPDATA": "{tmp}/AppData/Local"}, "AppData/Local/MaskHand/backend-py311"),
    ("darwin", {}, "home/Library/Application Support/MaskHand/backend-py311"),
])
def test_the_environment_lives_in_the_user_data_folder(tmp_path, platform, env, expected):
    env = {k: v.format(tmp=tmp_path) for k, v in env.items()}
    assert bi.user_env_dir(platform, env, tmp_path / "home") == tmp_path / expected


def test_the_pins_come_from_the_requirements_file():
    assert bi.pinned("torch") == "2.13.0" and bi.pinned("mediapipe") == "0.10.21" and bi.pinned("nothing") is None


def test_plan_reuses_a_compatible_environment_and_rebuilds_an_incompatible_one(tmp_path):
    env_dir = tmp_path / "backend-py311"
    base = _info(platform="linux", machine="x86_64", libc=("glibc", "2.36"), executable="/usr/bin/python3.11")
    plan = bi.plan_install(env_dir, base, "cpu")
    assert [label.split()[0] for label, _ in plan.steps] == ["Creating", "Installing", "Installing"]
    assert plan.steps[0][1] == ["/usr/bin/python3.11", "-m", "venv", str(env_dir)] and plan.reused is None
    assert "torch==2.13.0+cpu" in plan.steps[1][0]
    assert plan.steps[2][1][-2:] == ["-r", str(bi.REQUIREMENTS)]
    # The steps ran (a fake interpreter stands for the venv); the stamp records what went in.
    touch(bi.env_python(env_dir, "linux"))
    plan.finish()
    again = bi.plan_install(env_dir, base, "cpu")
    assert [argv[-1] for _, argv in again.steps] == [str(bi.REQUIREMENTS)]  # only pip's quick check
    assert "reusing the backend environment" in again.reused and "the same packages" in again.reused
    cuda = bi.plan_install(env_dir, base, "cuda")  # another torch build: torch again, the venv kept
    assert [argv[-1] for _, argv in cuda.steps] == ["torch==2.13.0+cu126", str(bi.REQUIREMENTS)]
    other = bi.plan_install(env_dir, _info(version=(3, 11), platform="linux", machine="x86_64",
                                           libc=("glibc", "2.36"), executable="/opt/py"), "cpu",
                            requirements=_requirements(tmp_path, "mediapipe==0.10.22"))
    assert "updating its packages" in other.reused
    stamp = bi.read_stamp(env_dir)
    (env_dir / bi.STAMP_NAME).write_text(stamp and '{"python": "3.10"}')
    rebuilt = bi.plan_install(env_dir, base, "cpu")  # an environment of another Python: made anew
    assert rebuilt.steps[0][1] == ["/usr/bin/python3.11", "-m", "venv", "--clear", str(env_dir)]


def _requirements(tmp_path, extra):
    path = tmp_path / "req.txt"
    path.write_text(bi.REQUIREMENTS.read_text() + extra + "\n")
    return path


def test_a_folder_without_a_stamp_or_interpreter_is_recreated(tmp_path):
    env_dir = tmp_path / "env"
    (env_dir / "lib").mkdir(parents=True)  # a half-made environment (an interrupted first install)
    plan = bi.plan_install(env_dir, _info(platform="win32", machine="AMD64", executable="C:/py/python.exe"), "cpu")
    assert plan.steps[0][1][-2:] == ["--clear", str(env_dir)]
    assert [argv[-1] for _, argv in plan.steps[1:]] == [str(bi.REQUIREMENTS)]  # Windows CPU: PyPI's torch
    assert plan.steps[1][1][0] == str(env_dir / "Scripts" / "python.exe")
