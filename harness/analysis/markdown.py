"""User-given text (task names, swept values, sweep folders, error details) made safe in a
Markdown report: shown as written, never read as a table cell break, emphasis, a link or HTML."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence

import pandas as pd

# Markdown's own punctuation, escaped with a backslash (CommonMark: any ASCII punctuation may be).
MARKUP = re.compile(r"([\\`*_\[\]|#!])")


def escape(text: object) -> str:
    """`text` as one line of literal Markdown: `|` cannot split a table, `<script>` is text."""
    flat = " ".join(str(text).splitlines())
    return MARKUP.sub(r"\\\1", html.escape(flat, quote=False))


def table(header: Sequence[object], rows: Iterable[Sequence[object]]) -> str:
    """A Markdown table (pandas' `to_markdown`, pipe format) of cells already formatted as text:
    shown as given, never re-parsed as numbers. Escape user text first (`escape`)."""
    frame = pd.DataFrame([[str(cell) for cell in row] for row in rows], columns=[str(h) for h in header])
    return frame.to_markdown(index=False, disable_numparse=True, stralign="left")
