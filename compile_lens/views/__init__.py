"""Stage 4: renderers (DataFrames, text, widgets, graphs, plots, HTML).

Optional dependencies (pandas, plotly, graphviz, ipywidgets) are imported inside functions only.

Modules: ``tables`` (DataFrames), ``display`` (``Trace`` in a notebook), ``widgets`` and
``explorer_tabs`` (the ipywidgets explorer), ``graphs`` and ``graph_render`` (the split graph as
SVG, Graphviz or a plain fallback), ``plots`` (plotly figure specs), ``registry`` (the one list of
sections the report, the notebook and the explorer loop over), ``sections`` (the HTML bodies of
those sections), ``report`` (the one-file HTML report), ``page`` (the page template every HTML
output uses), ``mimebundle`` (the one notebook display helper), ``progress`` (the live progress
line), ``diff`` (``Diff`` views); private helpers ``_html`` (escaping, tables, ids), ``_assets``
(CSS/JS/plotly.js loader), ``_redact``.
"""
