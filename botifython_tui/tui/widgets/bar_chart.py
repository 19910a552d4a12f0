"""A horizontal bar chart drawn with block characters, for `[[label, count], …]` data."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from rich.console import Console, ConsoleOptions, RenderResult
from rich.style import Style
from rich.text import Text
from textual.widget import Widget

from botifython_tui.core.text import single_line

# Eighths of a cell, so short bars still differ; a count above zero always shows at least one.
_PARTIAL = " ▏▎▍▌▋▊▉"
_FULL = "█"


def bar_text(value: int, peak: int, width: int) -> str:
    """The bar for `value` when `peak` fills `width` cells."""
    if value <= 0 or peak <= 0 or width <= 0:
        return ""
    eighths = max(1, round(value / peak * width * 8))
    full, rest = divmod(min(eighths, width * 8), 8)
    return _FULL * full + (_PARTIAL[rest] if rest else "")


def _rows(data: Iterable[Sequence[Any]]) -> list[tuple[str, int]]:
    rows = []
    for item in data or []:
        if len(item) < 2:
            continue
        try:
            count = int(item[1])
        except (TypeError, ValueError):
            continue
        rows.append((single_line(str(item[0])), max(count, 0)))
    return rows


class _Bars:
    """The Rich renderable: one line per row, bars scaled to the width it is given."""

    def __init__(
        self,
        rows: list[tuple[str, int]],
        styles: dict[str, Style],
        empty: str,
        formatter: Callable[[int], str] | None = None,
    ) -> None:
        self.rows = rows
        self.styles = styles
        self.empty = empty
        self.formatter = formatter or (lambda count: f"{count:,}")

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        if not self.rows:
            yield Text(self.empty, style=self.styles["label"])
            return
        label_width = max(len(label) for label, _ in self.rows)
        counts = [self.formatter(count) for _, count in self.rows]
        count_width = max(len(count) for count in counts)
        peak = max(count for _, count in self.rows)
        bar_width = max(1, options.max_width - label_width - count_width - 2)
        for (label, value), count in zip(self.rows, counts, strict=True):
            line = Text(no_wrap=True, overflow="ellipsis")
            line.append(label.rjust(label_width), self.styles["label"])
            line.append(" ")
            bar = bar_text(value, peak, bar_width)
            line.append(bar, self.styles["bar"])
            line.append(" " * (bar_width - len(bar) + 1))
            line.append(count.rjust(count_width), self.styles["count"])
            yield line


class BarChart(Widget):
    """Rows of `label ████▌ count`; labels and counts are shown literally."""

    COMPONENT_CLASSES = {"bar-chart--label", "bar-chart--bar", "bar-chart--count"}

    def __init__(
        self,
        data: Iterable[Sequence[Any]] = (),
        *,
        empty: str = "No data.",
        formatter: Callable[[int], str] | None = None,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.rows = _rows(data)
        self.empty = empty
        self.formatter = formatter  # how a count is shown (default: 1,234)

    def set_data(self, data: Iterable[Sequence[Any]]) -> None:
        """Replace the rows and redraw (the height follows the number of rows)."""
        self.rows = _rows(data)
        self.refresh(layout=True)

    def get_content_height(self, container: Any, viewport: Any, width: int) -> int:
        return max(1, len(self.rows))

    def render(self) -> _Bars:
        styles = {
            "label": self.get_component_rich_style("bar-chart--label"),
            "bar": self.get_component_rich_style("bar-chart--bar"),
            "count": self.get_component_rich_style("bar-chart--count"),
        }
        return _Bars(self.rows, styles, self.empty, self.formatter)
