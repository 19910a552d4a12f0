"""Cosmograph links: the `run` URL that loads a link graph (and its node attributes) from here.

Opening it (a browser on this machine, or an SSH forward) is `core/browser.py`'s. Standard
library only; no Textual.
"""

from __future__ import annotations

from urllib.parse import quote

COSMOGRAPH_RUN_URL = "https://cosmograph.app/run/"
# Chrome's Local Network Access: a public page (cosmograph.app) reading from 127.0.0.1 needs the
# user's permission, asked once per site.
LOCAL_NETWORK_NOTE = (
    "Chrome asks once whether cosmograph.app may access devices on your local network "
    "(it reads the files from 127.0.0.1): allow it."
)


def cosmograph_url(
    links_url: str,
    meta_url: str | None,
    node_color: str = "pagetype",
    node_size: str | None = None,
) -> str:
    """`https://cosmograph.app/run/?data=<links>&meta=<meta>&nodeColor=<column>[&nodeSize=<column>]`.

    The inner URLs are percent-encoded completely; meta, nodeColor and nodeSize are left out
    without meta. `node_size` names a numeric column of the meta file (the nodes file's PageRank).
    """
    url = f"{COSMOGRAPH_RUN_URL}?data={quote(links_url, safe='')}"
    if meta_url is not None:
        url += f"&meta={quote(meta_url, safe='')}&nodeColor={quote(node_color, safe='')}"
        if node_size:
            url += f"&nodeSize={quote(node_size, safe='')}"
    return url
