"""Views: the single loader of front-end assets (CSS, JS) shipped in ``compile_lens/_assets``.

Stage 4. Every page, report and notebook fragment reads its CSS/JS through ``read_asset`` so each
asset is embedded once per output and nothing is ever fetched from the network.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path

from compile_lens.errors import CompileLensError


@cache
def read_asset(name: str) -> str:
    """Return the text of ``compile_lens/_assets/<name>``.

    Args:
        name: file name inside the package's ``_assets`` folder (``"report.css"``).

    Returns:
        The file's text (UTF-8).
    """
    try:
        return resources.files("compile_lens").joinpath("_assets", name).read_text("utf-8")
    except FileNotFoundError:
        msg = (
            f"compile_lens: asset {name!r} is missing from compile_lens/_assets; the installation "
            "is incomplete, reinstall with: pip install --force-reinstall compile-lens"
        )
        raise CompileLensError(msg) from None


@cache
def plotly_js() -> str:
    """plotly.js from the installed ``plotly`` package (embedded once per report, never a CDN).

    Read straight from the package's data file (what ``plotly.offline.get_plotlyjs`` returns)
    so the report does not pay for importing plotly's Python modules.
    """
    from importlib.util import find_spec

    spec = find_spec("plotly")
    if spec is None or not spec.submodule_search_locations:
        from compile_lens.errors import missing_dependency

        err = missing_dependency("plotly", "the HTML report's plots")
        raise err from None
    for folder in spec.submodule_search_locations:
        path = Path(folder) / "package_data" / "plotly.min.js"
        if path.is_file():
            return path.read_text(encoding="utf-8")
    from plotly.offline import get_plotlyjs  # a layout we do not know: ask plotly

    return get_plotlyjs()
