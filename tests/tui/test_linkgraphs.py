"""Link graphs screen: the profile's exports, summaries, missing files, the Cosmograph link."""

from __future__ import annotations

import dataclasses
import socket
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from textual.widgets import DataTable, Static

from botifython_tui.core.app_events import GraphVisualised
from botifython_tui.tui.app import make_app
from botifython_tui.tui.screens.botify_visualise import VisualiseDialog
from botifython_tui.tui.screens.linkgraphs import LinkGraphsScreen
from tests.tui.helpers import posted_events, table_rows
from tests.tui.test_botify_support import rendered

SUMMARY = {
    "urls": 31,
    "edges": 120,
    "depth": 2,
    "depth_reason": "the count stopped growing at depth 2 (120 edges)",
    "depth_histogram": [[0, 1], [1, 5], [2, 25]],
    "out_degree": [["0", 25], ["4–7", 6]],
    "in_degree": [["0", 1], ["1", 20], ["2–3", 10]],
    "top_hubs": [["https://example.com/", 5], ["https://example.com/[bold]x[/]\x1b[2J", 4]],
    "top_linked": [],
    "without_inlinks": 1,
    "without_inlinks_sample": ["https://example.com/"],
}


@pytest.fixture
def no_browser(monkeypatch):
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "SSH_CONNECTION", "SSH_TTY", "SSH_CLIENT"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def serving(settings, no_browser):
    return dataclasses.replace(settings, serve_port=0)


def add_export(store, settings, analysis: str, *, files: bool = True, profile_id: int = 1):
    folder = settings.downloads_dir
    links = folder / f"acme-org_example.com_{analysis}_linkgraph_depth-2.csv"
    meta = folder / f"acme-org_example.com_{analysis}_meta.csv"
    if files:
        links.write_text("source,target\nhttps://example.com/,https://example.com/a\n")
        meta.write_text("id,depth,pagetype\nhttps://example.com/,0,home\n")
    return store.exports(profile_id).add(
        org="acme-org",
        project="example.com",
        analysis=analysis,
        depth=2,
        edges=120,
        urls=31,
        links_path=str(links),
        meta_path=str(meta),
        summary={**SUMMARY, "edges": 120 if analysis.endswith("-2") else 99},
    )


def summary_title(app) -> str:
    return str(app.screen.query_one("#summary-title", Static).render())


async def open_linkgraphs(pilot) -> LinkGraphsScreen:
    await pilot.press("f5")
    await pilot.pause()
    assert isinstance(pilot.app.screen, LinkGraphsScreen)
    return pilot.app.screen


async def test_lists_this_profiles_exports_and_reopens_their_summaries(serving, store):
    add_export(store, serving, "20241001")
    add_export(store, serving, "20241108-2")
    other = store.profiles.create("Client B")
    add_export(store, serving, "20240101", profile_id=other.id)
    app = make_app(serving, store)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_linkgraphs(pilot)
        rows = table_rows(screen.query_one(DataTable))
        assert [row[:5] for row in rows] == [
            ["acme-org/example.com", "20241108-2", "2", "120", "2 ok"],
            ["acme-org/example.com", "20241001", "2", "120", "2 ok"],
        ]
        assert "20241108-2 · 31 URLs · 120 edges · depth ≤ 2" in summary_title(app)  # newest
        files = str(screen.query_one("#export-files", Static).render())
        assert "…_linkgraph_depth-2.csv" in files and "…_meta.csv" in files

        await pilot.press("down", "enter")
        assert "20241001 · 31 URLs · 99 edges" in summary_title(app)
        assert screen.query_one("#linkgraph-summary-scroll").has_focus
        hubs = rendered(screen.query_one("#summary-hubs"))
        assert "https://example.com/[bold]x[/]" in hubs and "\x1b" not in hubs and "2J" not in hubs
        await pilot.press("escape")
        assert screen.query_one(DataTable).has_focus

        app.switch_profile(other.id)
        await pilot.pause()
        rows = table_rows(screen.query_one(DataTable))
        assert [row[1] for row in rows] == ["20240101"]
        assert "20240101" in summary_title(app)


async def test_missing_files_are_flagged_and_explained(serving, store):
    add_export(store, serving, "20241108", files=False)
    app = make_app(serving, store)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_linkgraphs(pilot)
        assert table_rows(screen.query_one(DataTable))[0][4] == "missing"
        assert "Missing from" in str(screen.query_one("#export-files", Static).render())
        await pilot.press("s")
        assert [n.title for n in app._notifications] == ["Files missing"]
        assert "20241108" in summary_title(app)  # the recorded summary still shows
        app.clear_notifications()
        await pilot.press("escape", "v")
        await pilot.pause()
        assert not isinstance(app.screen, VisualiseDialog)
        (note,) = app._notifications
        assert note.title == "Files missing" and note.severity == "error"
        assert "acme-org_example.com_20241108_linkgraph_depth-2.csv" in note.message


async def test_files_changed_since_the_export_are_flagged_per_row(serving, store):
    """The size and a fingerprint are recorded at export time; a later edit is noticed."""
    from botifython_tui.core.export_files import fingerprint

    folder = serving.downloads_dir
    records = {}
    for analysis in ("20241001", "20241108"):
        links = folder / f"acme-org_example.com_{analysis}_linkgraph_depth-2.csv"
        meta = folder / f"acme-org_example.com_{analysis}_depth-2_meta.csv"
        links.write_text("source,target\nhttps://example.com/,https://example.com/a\n")
        meta.write_text("id,depth,pagetype\nhttps://example.com/,0,home\n")
        files = {
            kind: {
                "path": str(p),
                "size": p.stat().st_size,
                "rows": 1,
                "fingerprint": fingerprint(p),
            }
            for kind, p in (("links", links), ("meta", meta))
        }
        records[analysis] = store.exports(1).add(
            org="acme-org",
            project="example.com",
            analysis=analysis,
            depth=2,
            edges=1,
            urls=2,
            links_path=str(links),
            meta_path=str(meta),
            summary=SUMMARY,
            files=files,
        )
    # 20241108: same size, other content (a hand edit); 20241001: shorter (a later bad write)
    edited = Path(records["20241108"].links_path)
    edited.write_text(edited.read_text().replace("/a", "/b"))
    shrunk = Path(records["20241001"].meta_path)
    shrunk.write_text("id\n")
    app = make_app(serving, store)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_linkgraphs(pilot)
        rows = table_rows(screen.query_one(DataTable))
        assert [(row[1], row[4]) for row in rows] == [
            ("20241108", "changed"),
            ("20241001", "changed"),
        ]
        line = str(screen.query_one("#export-files", Static).render())
        assert "Not as exported" in line and "changed since the export" in line
        await pilot.press("down")
        await pilot.pause()
        line = str(screen.query_one("#export-files", Static).render())
        assert "…_depth-2_meta.csv changed" in line and "bytes" in line
        await pilot.press("enter")
        await pilot.pause()
        assert "Files changed" in [n.title for n in app._notifications]
        # an export whose files are back as they were is fine again
        shrunk.write_text("id,depth,pagetype\nhttps://example.com/,0,home\n")
        screen.refresh_data()
        await pilot.pause()
        assert table_rows(screen.query_one(DataTable))[1][4] == "2 ok"


async def test_visualise_serves_the_files_and_gives_the_cosmograph_link(serving, store):
    record = add_export(store, serving, "20241108")
    app = make_app(serving, store)
    messages: list = []
    async with app.run_test(size=(80, 24), message_hook=messages.append) as pilot:
        await open_linkgraphs(pilot)
        await app.workers.wait_for_complete()  # the analytics of the selected export: nodes file
        nodes = Path(record.links_path).with_name("acme-org_example.com_20241108_depth-2_nodes.csv")
        assert nodes.is_file()
        await pilot.press("v")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, VisualiseDialog)
        server = app.downloads_server()
        assert server.running and server.base_url.startswith("http://127.0.0.1:")
        links_url = (
            f"{server.base_url}/{server.secret}/acme-org_example.com_20241108_linkgraph_depth-2.csv"
        )
        assert dialog.links_url == links_url
        assert dialog.url.startswith("https://cosmograph.app/run/?data=")
        assert quote(links_url, safe="") in dialog.url
        # Nodes sized by internal PageRank and coloured by pagetype, from the nodes file.
        nodes_url = f"{server.base_url}/{server.secret}/{nodes.name}"
        assert quote(nodes_url, safe="") in dialog.url
        assert dialog.url.endswith("&nodeColor=pagetype&nodeSize=pagerank")
        assert httpx.get(nodes_url).status_code == 200
        hint = str(dialog.query_one("#visualise-hint", Static).render())
        assert "ssh -L" in hint and "Chrome asks once" in hint
        assert "secret" in hint and server.secret in dialog.url  # the link carries it

        # Only with the secret, only to this host, and only this profile's export files.
        assert httpx.get(links_url.replace(server.secret, "x" * 32)).status_code == 404
        assert httpx.get(links_url, headers={"Host": "evil.example"}).status_code == 421
        (serving.downloads_dir / "notes.csv").write_text("private\n")
        assert httpx.get(f"{server.base_url}/{server.secret}/notes.csv").status_code == 404

        response = httpx.get(links_url)
        assert response.status_code == 200
        assert response.text == Path(record.links_path).read_text()

        await pilot.press("c")
        assert app.clipboard == dialog.url
        await pilot.press("escape")
        assert isinstance(app.screen, LinkGraphsScreen)
        await pilot.press("v")  # the same server is reused
        await pilot.pause()
        assert app.downloads_server() is server and server.running
    assert not server.running  # stopped with the app
    with pytest.raises(httpx.ConnectError):
        httpx.get(links_url)
    assert any(isinstance(e, GraphVisualised) for e in posted_events(messages))


async def test_a_busy_port_serves_on_another_and_says_which(settings, store, no_browser):
    with socket.socket() as busy:  # another Botifython (or another program) holds the port
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        add_export(store, settings, "20241108")
        app = make_app(dataclasses.replace(settings, serve_port=port), store)
        async with app.run_test(size=(80, 24)) as pilot:
            await open_linkgraphs(pilot)
            await pilot.press("v")
            await pilot.pause()
            dialog = app.screen
            assert isinstance(dialog, VisualiseDialog)
            server = app.downloads_server()
            assert server.running and server.port != port
            (note,) = app._notifications
            assert note.title == "Another port"
            assert f"Port {port} is in use" in note.message
            assert f"port {server.port} instead" in note.message
            assert f":{server.port}/" in dialog.links_url
            serving = str(dialog.query_one("#visualise-serving", Static).render())
            assert f"port {server.port} instead" in serving


async def test_no_exports_yet_says_where_to_make_one(serving, store):
    app = make_app(serving, store)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_linkgraphs(pilot)
        assert screen.query_one(DataTable).row_count == 0
        assert "Botify (F4)" in summary_title(app)
        await pilot.press("v")
        await pilot.pause()
        assert isinstance(app.screen, LinkGraphsScreen)
