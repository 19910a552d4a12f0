"""What the chat says when no Ollama answers: how to install one, pull a model, or point elsewhere."""

from __future__ import annotations

SUGGESTED_MODEL = "llama3.2"


def ollama_setup_help(host: str) -> str:
    """One screen of plain steps to get the assistant going (everything else works without it)."""
    return (
        f"No Ollama answers at {host}. The assistant runs on Ollama, a local model server; "
        "everything else in Botifython (todos, Botify exports, link graphs) works without it.\n"
        "\n"
        "To set it up on this machine:\n"
        "  1. Install Ollama: curl -fsSL https://ollama.com/install.sh | sh\n"
        "     (macOS and Windows: the installer from https://ollama.com/download)\n"
        "  2. Start it, if the installer did not: ollama serve\n"
        f"  3. Pull a model (about 2 GB): ollama pull {SUGGESTED_MODEL}\n"
        "  4. Ask again here: Enter on the same question.\n"
        "\n"
        "Ollama on another machine (a GPU box)? Start Botifython with "
        "OLLAMA_HOST=http://HOST:11434 (or --ollama-host HOST:11434), or set the host here "
        "with Ctrl+G on the Chat screen. On that machine, OLLAMA_HOST=0.0.0.0 ollama serve "
        "makes it listen beyond localhost; over SSH, ssh -L 11434:localhost:11434 HOST "
        "forwards it instead."
    )
