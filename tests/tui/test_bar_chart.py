"""The bar chart widget: bars scale to the width, labels and counts stay literal."""

from __future__ import annotations

from textual.app import App, ComposeResult

from botifython_tui.tui.widgets.bar_chart import BarChart, bar_text


def test_bar_text_scales_with_eighths():
    assert bar_text(10, 10, 8) == "█" * 8
    assert bar_text(5, 10, 8) == "█" * 4
    assert bar_text(1, 2, 1) == "▌"
    assert bar_text(3, 8, 1) == "▍"
    assert bar_text(0, 10, 8) == ""
    assert bar_text(1, 1_000_000, 10) == "▏"  # above zero always shows
    assert bar_text(20, 10, 8) == "█" * 8  # never wider than the room


class ChartApp(App):
    CSS = "BarChart { height: auto; }"  # as in app.tcss

    def __init__(self, chart: BarChart) -> None:
        super().__init__()
        self.chart = chart

    def compose(self) -> ComposeResult:
        yield self.chart


def lines(app: App) -> list[str]:
    chart = app.query_one(BarChart)
    return [
        "".join(segment.text for segment in strip).rstrip()
        for strip in (chart.render_line(y) for y in range(chart.size.height))
    ]


async def test_rows_fill_the_width_and_keep_labels_literal():
    data = [["0", 1], ["2–3", 50], ["[bold]x[/]", 100], ["\x1b[31mred", 0]]
    app = ChartApp(BarChart(data))
    async with app.run_test(size=(40, 10)):
        chart = app.query_one(BarChart)
        assert chart.size.height == 4
        rendered = lines(app)
        assert rendered[0].startswith("         0 ▎")  # 1% of 24 cells: two eighths
        assert rendered[2].startswith("[bold]x[/] ████")
        assert rendered[2].endswith(" 100")
        assert len(rendered[2]) == 40  # the longest bar uses the whole width
        assert "█" not in rendered[3] and rendered[3].lstrip().startswith("red ")
        half = rendered[1].count("█")
        assert abs(half - rendered[2].count("█") / 2) <= 1


async def test_set_data_resizes_and_empty_says_so():
    app = ChartApp(BarChart(empty="Nothing yet."))
    async with app.run_test(size=(40, 10)) as pilot:
        assert lines(app) == ["Nothing yet."]
        app.query_one(BarChart).set_data([["a", 1_234_567], ["b", 2]])
        await pilot.pause()
        rendered = lines(app)
        assert len(rendered) == 2 and rendered[0].endswith("1,234,567")
