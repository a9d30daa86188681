"""Plain-text and markdown tables: every command prints its results through this one renderer."""

from __future__ import annotations


def render_table(header: list[str], rows: list[list[str]], fmt: str = "text") -> str:
    """Columns padded to their widest cell (text) or a GitHub markdown table (fmt="markdown")."""
    if fmt == "markdown":
        out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        out += ["| " + " | ".join(r) + " |" for r in rows]
        return "\n".join(out)
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=False)]
    line = "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))
    body = ["  ".join(str(x).ljust(w) for x, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join([line, "-" * len(line), *body])
