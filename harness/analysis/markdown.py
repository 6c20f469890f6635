"""User-given text (task names, swept values, sweep folders, error details) made safe in a
Markdown report: shown as written, never read as a table cell break, emphasis, a link or HTML."""

from __future__ import annotations

import html
import re

# Markdown's own punctuation, escaped with a backslash (CommonMark: any ASCII punctuation may be).
MARKUP = re.compile(r"([\\`*_\[\]|#!])")


def escape(text: object) -> str:
    """`text` as one line of literal Markdown: `|` cannot split a table, `<script>` is text."""
    flat = " ".join(str(text).splitlines())
    return MARKUP.sub(r"\\\1", html.escape(flat, quote=False))
