"""Views: the one page template every compile_lens HTML output uses (report, ``Diff.to_html``).

Stage 4: stdlib only. ``render_page`` returns a complete, self-contained page (CSS and JS embedded
once, a Content-Security-Policy that forbids every network fetch); ``render_fragment`` gives the
same look inside a notebook cell. Both are deterministic: same input, same bytes.
"""

from __future__ import annotations

from collections.abc import Sequence

from compile_lens._version import __version__
from compile_lens.views._assets import read_asset
from compile_lens.views._html import content_id, esc

# No network: only inline styles/scripts and data: URLs may load (plotly.js is embedded inline).
# No navigation away where CSP can say so: no form posts, no <base> rewrite, no frames, plugins
# or workers. Browsers offer no CSP for link clicks (``navigate-to`` was dropped), so the page's
# script stops those (report.js); the trace's own strings never become links (escaped for HTML
# and for plotly's pseudo-HTML).
_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
    "img-src data:; font-src data:; connect-src 'none'; form-action 'none'; base-uri 'none'; "
    "frame-src 'none'; object-src 'none'; worker-src 'none'; media-src 'none'; "
    "manifest-src 'none'"
)


def _section_ids(sections: Sequence[tuple[str, str]]) -> list[str]:
    return [content_id("sec", i, heading) for i, (heading, _) in enumerate(sections)]


def _sections_html(sections: Sequence[tuple[str, str]], ids: list[str]) -> str:
    return "\n".join(
        f'<details class="cl-section" id="{sid}" open><summary><h2>{esc(heading)}</h2></summary>'
        f'<div class="cl-body">{body}</div></details>'
        for sid, (heading, body) in zip(ids, sections, strict=True)
    )


def render_page(
    title: str,
    sections: Sequence[tuple[str, str]],
    *,
    subtitle: str = "",
    head: str = "",
) -> str:
    """A complete HTML page in the report's style.

    Args:
        title: page title (plain text; escaped).
        sections: ``(heading, body_html)`` pairs; headings are escaped, bodies must already be
            safe HTML (build them with ``compile_lens.views._html``). Each becomes a collapsible
            section with an entry in the navigation bar.
        subtitle: one line under the title (plain text; escaped).
        head: extra trusted markup for ``<head>`` (the report puts plotly.js here, once).

    Returns:
        The page as a string; the same arguments always give the same bytes.
    """
    ids = _section_ids(sections)
    pairs = zip(ids, sections, strict=True)
    nav = "".join(f'<a href="#{sid}">{esc(h)}</a>' for sid, (h, _) in pairs)
    buttons = (
        '<button type="button" data-fold="open">expand all</button>'
        '<button type="button" data-fold="close">collapse all</button>'
    )
    sub = f'<p class="cl-subtitle">{esc(subtitle)}</p>' if subtitle else ""
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f'<meta name="generator" content="compile_lens {esc(__version__)}">\n'
        f"<title>{esc(title)}</title>\n<style>{read_asset('report.css')}</style>\n{head}</head>\n"
        f'<body class="cl-page"><header><h1>{esc(title)}</h1>{sub}'
        f'<nav class="cl-nav">{nav}{buttons}</nav></header>\n<main>\n'
        f"{_sections_html(sections, ids)}\n</main>\n"
        f"<footer>compile_lens {esc(__version__)}: a self-contained report; it loads nothing "
        f"from the network.</footer>\n<script>{read_asset('report.js')}</script>\n</body></html>\n"
    )


def render_fragment(
    title: str, sections: Sequence[tuple[str, str]], *, subtitle: str = "", open_: int = 1
) -> str:
    """The same look as ``render_page`` as a notebook output fragment (no scripts, no head).

    Args:
        title: heading (escaped).
        sections: ``(heading, body_html)`` pairs as for ``render_page``.
        subtitle: one line under the title (escaped).
        open_: how many leading sections start expanded.
    """
    ids = _section_ids(sections)
    parts = [
        f'<details class="cl-section" id="{sid}"{" open" if i < open_ else ""}>'
        f'<summary><h2>{esc(h)}</h2></summary><div class="cl-body">{body}</div></details>'
        for i, (sid, (h, body)) in enumerate(zip(ids, sections, strict=True))
    ]
    sub = f'<p class="cl-subtitle">{esc(subtitle)}</p>' if subtitle else ""
    return (
        f'<div class="cl-page cl-fragment"><style>{read_asset("report.css")}</style>'
        f'<h1 style="font-size:18px;margin:4px 0">{esc(title)}</h1>{sub}{"".join(parts)}</div>'
    )
