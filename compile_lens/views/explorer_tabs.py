"""Views: the interactive tabs of the explorer (piece browser, table filters, factor search).

Stage 4: ipywidgets imported lazily (through ``views.widgets``). Each builder takes a
``TraceRecord`` and returns a widget whose callbacks re-render escaped report HTML.
"""

from __future__ import annotations

from typing import Any

from compile_lens.model import TraceRecord
from compile_lens.model.safe_text import html_visible
from compile_lens.views import sections, tables
from compile_lens.views._html import code_block, frame_table, hint, table
from compile_lens.views.widgets import MAX_ROWS, _widgets, html, styled


def graph_tab(record: TraceRecord) -> Any:
    """Split graph(s) beside a piece picker; picking a piece shows its keys, code and nodes."""
    from compile_lens.views.graph_render import render_svg
    from compile_lens.views.graphs import split_drawing

    w = _widgets()
    if not record.graphs:
        return html(hint("no Dynamo graph was recorded"))
    graphs = {html_visible(f"{g.name or g.id} [{g.compile_id}]"): g for g in record.graphs}
    pick_graph = w.Dropdown(options=list(graphs), description="graph")
    pick_piece = w.Dropdown(description="piece", layout=w.Layout(width="420px"))
    picture, detail, code = w.HTML(), w.HTML(), w.HTML()
    state: dict[str, Any] = {}

    def show_graph(_: Any = None) -> None:
        graph = graphs[pick_graph.value]
        d = split_drawing(record, graph)
        svg, why = render_svg(d)
        state.update(graph=graph, drawing=d)
        picture.value = styled((hint(why) if why else "") + f'<div class="cl-graph">{svg}</div>')
        pick_piece.options = [(html_visible(sections.piece_label(p)), p.submod) for p in d.pieces]
        first = next((p.submod for p in d.pieces if not p.is_split_op), None)
        pick_piece.value = first if first is not None else pick_piece.value
        code.value = styled(
            code_block(graph.code or "(no code recorded)", summary="Dynamo graph code")
            + code_block(graph.bytecode_source or f"(not available: {graph.bytecode_note})",
                         summary="transformed bytecode, decompiled by depyf"))
        show_piece()

    def show_piece(_: Any = None) -> None:
        d, graph = state["drawing"], state["graph"]
        piece = next((p for p in d.pieces if p.submod == pick_piece.value), None)
        detail.value = styled("" if piece is None else sections.piece_detail(
            record, graph, piece, shown=True, members=d.members.get(piece.submod, [])))

    pick_graph.observe(show_graph, names="value")
    pick_piece.observe(show_piece, names="value")
    show_graph()
    right = w.VBox([pick_piece, detail], layout=w.Layout(width="58%"))
    left = w.Box([picture], layout=w.Layout(width="42%", max_height="760px", overflow="auto"))
    return w.VBox([pick_graph, w.HBox([left, right]), code])


def filtered(df: Any, query: str, sort: str | None, descending: bool) -> Any:
    """Rows of ``df`` containing ``query`` (any column, case-insensitive), sorted by ``sort``."""
    if query:
        q = query.lower()
        mask = df.astype(str).apply(lambda col: col.str.lower().str.contains(q, regex=False))
        df = df[mask.any(axis=1)]
    if sort:
        df = df.sort_values(sort, ascending=not descending, kind="stable", na_position="last")
    return df


def pieces_tab(record: TraceRecord) -> Any:
    """The pieces DataFrame with a filter box and a sort column; cross-check status on top."""
    w = _widgets()
    frame = tables.pieces_frame(record)
    query = w.Text(placeholder="filter rows…", description="filter")
    sort = w.Dropdown(options=[None, *frame.columns], description="sort by")
    desc = w.Checkbox(description="descending", value=False)
    out = w.HTML()
    keys = [i for i, c in enumerate(frame.columns) if str(c).endswith("_key")]

    def refresh(_: Any = None) -> None:
        df = filtered(frame, query.value, sort.value, desc.value)
        note = hint(f"{len(df)} of {len(frame)} rows" + (
            f"; showing the first {MAX_ROWS}" if len(df) > MAX_ROWS else ""))
        out.value = styled(note + frame_table(df.head(MAX_ROWS), scroll=True, short=keys))

    for control in (query, sort, desc):
        control.observe(refresh, names="value")
    refresh()
    status = html(sections.cross_check_status(record))
    keys_html = html(sections.mismatches(record) + sections.key_blocks(record))
    return w.VBox([status, w.HBox([query, sort, desc]), out, keys_html])


def factors_tab(record: TraceRecord) -> Any:
    """The factor dump with a search box (env values redacted)."""
    w = _widgets()
    rows = sections.factor_rows(record)
    if not rows:
        return html(hint("no factor dump in this trace"))
    query = w.Text(placeholder="search factors…", description="search")
    out = w.HTML()

    def refresh(_: Any = None) -> None:
        q = query.value.lower()
        hits = [r for r in rows if not q or any(q in str(x).lower() for x in r)]
        note = hint(f"{len(hits)} of {len(rows)} factors; secret-looking env values redacted")
        out.value = styled(note + table(["layer", "name", "value"], hits[:MAX_ROWS], scroll=True))

    query.observe(refresh, names="value")
    refresh()
    return w.VBox([query, out])
