"""Stage 4: renderers (DataFrames, text, widgets, graphs, plots, HTML).

Optional dependencies (pandas, plotly, graphviz, ipywidgets) are imported inside functions only.
"""
