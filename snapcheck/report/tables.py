"""Tables that fit the terminal: words are never split, and a table too wide for the width becomes a list.

Rich shrinks a table that is wider than the console by wrapping its cells, and splits a word that is longer than
its column (``STRIDED_SLIC`` / ``E``) or crops it. :func:`print_table` gives each column at least the width of its
longest word, so cells wrap only between words; when even that does not fit (an 80-column terminal and a wide
table), each row is printed as ``header: value`` lines instead. Nothing is cut; a cell is shortened only where its
column asks for it (``Col(max_width=..., ellipsis=True)``), and then with an ellipsis.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

_BORDER = 3  # a column's share of the heavy box: one rule and two padding spaces


@dataclass(frozen=True)
class Col:
    header: str
    justify: str = "left"
    max_width: int | None = None  # longer cells are cut with an ellipsis (identifiers such as tensor names)
    flex: bool = False  # an identifier column that takes the width left (at least 10), cut with an ellipsis


def _plain(cell: str) -> str:
    return Text.from_markup(cell).plain


def shorten(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters with an ellipsis (plain text, no markup)."""
    return text if len(text) <= width else text[: max(width - 1, 1)] + "…"


def print_table(console: Console, title: str, cols: list[Col], rows: list[list[str]], caption: str = "") -> None:
    """Print ``rows`` (rich markup cells; escape user text) as a table that fits ``console.width``."""
    words = _word_widths(cols, rows)
    flex = [i for i, c in enumerate(cols) if c.flex]
    if flex:
        left = console.width - (sum(w for i, w in enumerate(words) if i not in flex) + _BORDER * len(cols) + 1)
        each = max(left // len(flex), 10)
        cols = [Col(c.header, c.justify, max_width=min(each, c.max_width or each)) if c.flex else c for c in cols]
    rows = [[_cut(c, cell) for c, cell in zip(cols, row)] for row in rows]
    widths = fit_widths(_word_widths(cols, rows), _widest(cols, rows), console.width - _BORDER * len(cols) - 1)
    if widths is None:
        _print_records(console, title, cols, rows, caption)
        return
    t = Table(title=title or None, title_justify="left", caption=caption or None, caption_justify="left",
              box=box.HEAVY_HEAD)
    for c, w in zip(cols, widths):
        t.add_column(c.header, justify=c.justify, width=w, overflow="fold")  # type: ignore[arg-type]
    for r in rows:
        t.add_row(*r)
    console.print(t)


def fit_widths(least: list[int], most: list[int], room: int) -> list[int] | None:
    """Column widths that fill at most ``room``: each column's widest cell where they fit, else the widest columns
    narrowed in turn (never below their longest word, ``least``); None when even the words do not fit."""
    if sum(least) > room:
        return None
    widths = [max(a, b) for a, b in zip(least, most)]
    while sum(widths) > room:
        top = max(w for w, lo in zip(widths, least) if w > lo)
        i = next(i for i, (w, lo) in enumerate(zip(widths, least)) if w == top and w > lo)
        widths[i] -= 1
    return widths


def _widest(cols: list[Col], rows: list[list[str]]) -> list[int]:
    return [max([len(_plain(c.header))] + [len(_plain(r[i])) for r in rows]) for i, c in enumerate(cols)]


def _word_widths(cols: list[Col], rows: list[list[str]]) -> list[int]:
    """The longest word of each column, its header included."""
    out = []
    for i, c in enumerate(cols):
        cells = [c.header] + [_plain(r[i]) for r in rows]
        out.append(max((len(w) for cell in cells for w in cell.split()), default=1))
    return out


def _cut(c: Col, cell: str) -> str:
    if c.max_width is None or len(_plain(cell)) <= c.max_width:
        return cell
    return escape(shorten(_plain(cell), c.max_width))


def _print_records(console: Console, title: str, cols: list[Col], rows: list[list[str]], caption: str) -> None:
    """The narrow layout: the title, then per row its first cell and ``header: value`` lines for the rest."""
    if title:
        console.print(title, soft_wrap=False)
    for r in rows:
        console.print(f"[bold]{r[0]}[/]" if r[0] else "-")
        for c, cell in zip(cols[1:], r[1:]):
            if _plain(cell).strip():
                console.print(f"  [dim]{escape(c.header)}:[/] {cell}")
    if caption:
        console.print(caption)
