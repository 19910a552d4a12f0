#!/usr/bin/env bash
# Botifython dev session: `botifython` and JupyterLab side by side in one tmux session.
#
#   scripts/dev-session.sh start [--no-jupyter] [--detach]   start (or attach to) the session
#   scripts/dev-session.sh stop                               kill the session
#   scripts/dev-session.sh status                             exit 0 when running, 1 when not
#
# Works with or without Nix (the flake's `botifython-session` commands call this script).
# Environment:
#   BOTIFYTHON_TMUX_SESSION  session name (default: botifython)
#   BOTIFYTHON_TMUX_SOCKET   tmux socket name, as `tmux -L NAME` (default: tmux's own)
#   BOTIFYTHON_CMD           command for the app pane (default: botifython)
#   BOTIFYTHON_JUPYTER_PORT  JupyterLab port (default: 8888), bound to 127.0.0.1 only
#
# Written for bash 3.2 too (macOS's /bin/bash).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SESSION="${BOTIFYTHON_TMUX_SESSION:-botifython}"
APP_CMD="${BOTIFYTHON_CMD:-botifython}"
JUPYTER_PORT="${BOTIFYTHON_JUPYTER_PORT:-8888}"

usage() {
    sed -n '2,14p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

die() {
    echo "dev-session: $*" >&2
    exit 2
}

command -v tmux >/dev/null 2>&1 || die "tmux is not installed (nix develop, apt-get install tmux, or brew install tmux)"

tmux_() {
    if [ -n "${BOTIFYTHON_TMUX_SOCKET:-}" ]; then
        tmux -L "$BOTIFYTHON_TMUX_SOCKET" "$@"
    else
        tmux "$@"
    fi
}

# "=name" makes tmux match the session name exactly instead of by prefix.
running() {
    tmux_ has-session -t "=$SESSION" 2>/dev/null
}

# The Python that owns the project: the repo's .venv when there is one.
project_python() {
    if [ -x "$ROOT/.venv/bin/python" ]; then
        echo "$ROOT/.venv/bin/python"
    elif [ -n "${VIRTUAL_ENV:-}" ] && [ -x "$VIRTUAL_ENV/bin/python" ]; then
        echo "$VIRTUAL_ENV/bin/python"
    else
        command -v python3 || command -v python || true
    fi
}

# A shell command line for a pane. A tmux server that is already running gives new panes its
# own environment, not ours, so PATH and the venv are passed along explicitly.
pane_command() {
    local line
    line="export PATH=$(printf '%q' "$PATH");"
    if [ -n "${VIRTUAL_ENV:-}" ]; then
        line="$line export VIRTUAL_ENV=$(printf '%q' "$VIRTUAL_ENV");"
    fi
    # The data folder is the per-user one unless the user chose another: pass that choice on.
    local var
    for var in BOTIFYTHON_DATA_DIR XDG_DATA_HOME; do
        if [ -n "${!var:-}" ]; then
            line="$line export $var=$(printf '%q' "${!var}");"
        fi
    done
    line="$line cd $(printf '%q' "$ROOT") && $1;"
    # When the program ends, leave a shell in the pane (to read errors, or run it again).
    line="$line rc=\$?; echo; echo \"[$(printf '%s' "$1" | tr -d '"$`\\') exited with status \$rc]\";"
    line="$line exec \"\${SHELL:-/bin/sh}\""
    printf '%s' "$line"
}

ensure_jupyter() {
    local py
    py="$(project_python)"
    [ -n "$py" ] || { echo "dev-session: no python found; starting without JupyterLab" >&2; return 1; }
    if "$py" -c 'import jupyterlab' >/dev/null 2>&1; then
        echo "$py"
        return 0
    fi
    echo "dev-session: installing JupyterLab once: pip install -e '.[jupyter]' ..." >&2
    if (cd "$ROOT" && "$py" -m pip install --quiet --disable-pip-version-check -e '.[jupyter]' >&2); then
        echo "$py"
        return 0
    fi
    echo "dev-session: could not install JupyterLab; starting without it" >&2
    return 1
}

attach() {
    if [ "${DETACH:-0}" = 1 ] || [ ! -t 0 ] || [ ! -t 1 ]; then
        echo "dev-session: session '$SESSION' is running; attach with: $(attach_hint)"
        return 0
    fi
    if [ -n "${TMUX:-}" ] && [ -z "${BOTIFYTHON_TMUX_SOCKET:-}" ]; then
        tmux_ switch-client -t "=$SESSION"
    else
        tmux_ attach-session -t "=$SESSION"
    fi
}

attach_hint() {
    if [ -n "${BOTIFYTHON_TMUX_SOCKET:-}" ]; then
        echo "tmux -L $BOTIFYTHON_TMUX_SOCKET attach -t $SESSION"
    else
        echo "tmux attach -t $SESSION"
    fi
}

cmd_start() {
    local jupyter=1
    DETACH=0
    while [ $# -gt 0 ]; do
        case "$1" in
            --no-jupyter) jupyter=0 ;;
            --detach | -d) DETACH=1 ;;
            -h | --help) usage; return 0 ;;
            *) die "start: unknown option '$1' (try --no-jupyter, --detach)" ;;
        esac
        shift
    done

    if running; then
        echo "dev-session: '$SESSION' is already running."
        attach
        return 0
    fi

    local width=160 height=48 size
    if [ -t 1 ] && size="$(stty size 2>/dev/null)" && [ -n "$size" ]; then
        height="${size% *}"
        width="${size#* }"
    fi

    local app_pane
    app_pane="$(tmux_ new-session -d -P -F '#{pane_id}' -s "$SESSION" -n botifython \
        -x "$width" -y "$height" -c "$ROOT" "$(pane_command "$APP_CMD")")"
    echo "dev-session: started '$SESSION' with: $APP_CMD"

    if [ "$jupyter" = 1 ]; then
        local py
        if py="$(ensure_jupyter)"; then
            local quoted_py
            quoted_py="$(printf '%q' "$py")"
            tmux_ split-window -v -l 10 -t "$app_pane" -c "$ROOT" \
                "$(pane_command "$quoted_py -m jupyterlab --no-browser --ip=127.0.0.1 --port=$JUPYTER_PORT")" \
                >/dev/null
            tmux_ select-pane -t "$app_pane"
            echo "dev-session: JupyterLab on http://127.0.0.1:$JUPYTER_PORT (token in the lower pane;"
            echo "             over SSH: ssh -L $JUPYTER_PORT:127.0.0.1:$JUPYTER_PORT HOST)"
        fi
    fi
    attach
}

cmd_stop() {
    if running; then
        tmux_ kill-session -t "=$SESSION"
        echo "dev-session: stopped '$SESSION'."
    else
        echo "dev-session: '$SESSION' is not running."
    fi
}

cmd_status() {
    if running; then
        echo "dev-session: '$SESSION' is running:"
        tmux_ list-panes -s -t "=$SESSION" \
            -F '  pane #{pane_id} #{pane_width}x#{pane_height} pid #{pane_pid} running #{pane_current_command}'
        return 0
    fi
    echo "dev-session: '$SESSION' is not running."
    return 1
}

main() {
    local sub="${1:-}"
    [ $# -gt 0 ] && shift
    case "$sub" in
        start) cmd_start "$@" ;;
        stop) cmd_stop ;;
        status) cmd_status ;;
        -h | --help | help) usage ;;
        *) usage >&2; exit 2 ;;
    esac
}

main "$@"
