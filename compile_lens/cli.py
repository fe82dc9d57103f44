"""Command line: ``compile-lens demo | summary | report | diff | factors``.

Stage 5: only composes library calls, does I/O and sets exit codes: 0 ok; 1 the keys differ
(``diff``) or the trace has issues (``report --strict``); 2 bad input, an I/O error or a crash,
always as one line on stderr. Everything printed goes through ``model.safe_text.visible``: a trace
cannot send escape sequences to your terminal.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from compile_lens.errors import CompileLensError
from compile_lens.model.safe_text import one_line, visible

if TYPE_CHECKING:
    from compile_lens.model import TraceRecord


def _cmd_demo(args: argparse.Namespace) -> int:
    from compile_lens.demo import run_demo

    out = Path(args.out)
    result = run_demo(layers=args.layers, compile_sizes=args.sizes, cross_check=args.cross_check,
                      cold=args.cold)
    trace = result.trace
    print(trace.summary())
    print(f"outputs vs eager: max |diff| = {result.max_abs_diff:.2e} at sizes {result.sizes_checked}")
    path = trace.save(out / "trace.json")
    print(f"trace:  {path}")
    try:
        report = trace.to_html(out / "report.html")
    except CompileLensError as exc:
        print(f"report: not written ({exc})")
    else:
        print(f"report: {out / 'report.html'} ({len(report) // 1024} KiB)")
    return 0


def _cmd_summary(args: argparse.Namespace) -> int:
    from compile_lens.api import load
    from compile_lens.model.redaction import redact_record

    trace = load(args.trace)
    shown = type(trace)(redact_record(trace.record))
    print(visible(str(shown.summary())))
    if args.cross_check:
        print(visible(str(shown.cross_check())))
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    return cli_report(args.trace, args.output, strict=args.strict)


def cli_report(trace_path: str | Path, out_path: str | Path, strict: bool = False) -> int:
    """Body of ``compile-lens report TRACE.json -o report.html``; returns the exit code.

    Exit codes: 0 written; 2 the trace could not be read or the report not written (one line on
    stderr); 1 with ``strict`` when the trace holds instrumentation issues or fields this
    version does not know (the report is still written).
    """
    from compile_lens.record.open import read_any
    from compile_lens.views.report import write_html

    try:
        record = read_any(trace_path)  # a saved trace, a TORCH_TRACE log or a directory of logs
    except CompileLensError as exc:
        print(f"compile-lens report: {one_line(exc)}", file=sys.stderr)
        return 2
    try:
        write_html(record, out_path)
    except OSError as exc:
        print(f"compile-lens report: {visible(str(out_path))}: cannot write the report "
              f"({exc.strerror or exc})", file=sys.stderr)
        return 2
    print(f"wrote {visible(str(out_path))}")
    problems = _strict_problems(record)
    if strict and problems:
        for line in problems:
            print(f"compile-lens report --strict: {one_line(line)}", file=sys.stderr)
        return 1
    return 0


def _strict_problems(record: TraceRecord) -> list[str]:
    out = [f"instrumentation issue in {i.hook}: {i.message}" for i in record.issues]
    if record.extra:
        out.append(f"unknown top-level fields: {', '.join(sorted(record.extra))}")
    parser = record.run.extra.get("parser")
    if isinstance(parser, dict) and parser.get("unknown"):
        out.append(f"records of unknown kinds: {', '.join(sorted(parser['unknown']))}")
    if isinstance(parser, dict) and parser.get("malformed_count"):
        out.append(f"{parser['malformed_count']} records could not be read")
    source = record.run.extra.get("source")
    if isinstance(source, dict) and source.get("problems"):  # an imported TORCH_TRACE log
        out += [f"log problem: {note}" for note in record.run.notes]
    return out


def cli_diff(a: object, b: object, html_out: str | None = None, *, redact: bool = True) -> int:
    """``compile-lens diff A B [--html OUT]``: print the explanation.

    Returns:
        0 when the cache keys agree, 1 when they differ, 2 on bad input or an I/O error (one
        line on stderr; a crash is exit 2 too, from ``main``).
    """
    from compile_lens.api import diff
    from compile_lens.views.diff import diff_html, diff_text

    try:
        d = diff(a, b, redact=redact)
    except CompileLensError as exc:
        print(f"compile-lens diff: error: {one_line(exc)}", file=sys.stderr)
        return 2
    if html_out:
        try:
            diff_html(d, html_out)
        except OSError as exc:
            print(f"compile-lens diff: error: {visible(html_out)}: cannot write the HTML "
                  f"({exc.strerror or exc})", file=sys.stderr)
            return 2
    sys.stdout.write(diff_text(d))
    if html_out:
        print(f"HTML written to {visible(html_out)}")
    return 0 if d.equal else 1


def _cmd_diff(args: argparse.Namespace) -> int:
    a, b = _diff_side(args.a, args.rank_a), _diff_side(args.b, args.rank_b)
    return cli_diff(a, b, args.html, redact=not args.show_secrets)


def _diff_side(path: str, rank: int | None) -> object:
    """A TORCH_TRACE log or log directory opens as a ``Trace`` (one rank of it with ``rank``);
    any other path (trace, factor dump, vLLM cache directory) goes to the diff as it is."""
    from compile_lens.record.importer import log_files

    p = Path(path)
    is_log = p.exists() and bool(log_files(p)[0]) if p.is_dir() else _is_log(p)
    if not is_log and rank is None:
        return path
    from compile_lens.api import load

    trace = load(path)
    return trace.rank(rank) if rank is not None else trace


def _is_log(path: Path) -> bool:
    from compile_lens.record.torch_trace import looks_like_log

    return path.is_file() and looks_like_log(path)


def _cmd_factors(args: argparse.Namespace) -> int:
    from compile_lens.instrument.factors import collect_factors
    from compile_lens.model.factor_readers import save_factors

    dump = collect_factors(redact=not args.show_secrets)
    try:
        path = save_factors(dump, args.out, redact=not args.show_secrets)
    except OSError as exc:
        print(f"compile-lens factors: {visible(args.out)}: cannot write ({exc.strerror or exc})",
              file=sys.stderr)
        return 2
    print(f"factors: {visible(str(path))} ({len(dump.env)} env vars, "
          f"{sum(len(v) for v in dump.config.values())} config values)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for tests and docs)."""
    about = (__doc__ or "compile-lens").splitlines()[0]
    parser = argparse.ArgumentParser(prog="compile-lens", description=about)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="trace the built-in small Llama through the piecewise backend")
    demo.add_argument("--layers", type=int, default=4, help="decoder layers (default 4)")
    demo.add_argument("--sizes", type=int, nargs="*", default=[1, 4],
                      help="exact compile sizes of the token dimension (default: 1 4)")
    demo.add_argument("--out", default="compile_lens_demo", help="output directory")
    demo.add_argument("--cross-check", action="store_true",
                      help="compile every piece through the legacy path and compare keys")
    demo.add_argument("--cold", action="store_true",
                      help="use fresh, temporary Inductor and artifact caches (a true cold compile)")
    demo.set_defaults(func=_cmd_demo)
    summary = sub.add_parser("summary", help="print the headline numbers of a saved trace, a "
                             "TORCH_TRACE log or a directory of them")
    summary.add_argument("trace")
    summary.add_argument("--cross-check", action="store_true", help="also print the key cross-check")
    summary.set_defaults(func=_cmd_summary)
    report = sub.add_parser("report", help="write the one-file HTML report of a saved trace, a "
                            "TORCH_TRACE log or a directory of them")
    report.add_argument("trace")
    report.add_argument("-o", "--output", default="report.html")
    report.add_argument("--strict", action="store_true",
                        help="exit non-zero on unknown fields or events (mostly for tests)")
    report.set_defaults(func=_cmd_report)
    diff = sub.add_parser("diff", help="explain why two runs' cache keys differ")
    diff.add_argument("a")
    diff.add_argument("b")
    diff.add_argument("--html", default=None, help="also write the diff as HTML")
    diff.add_argument("--rank-a", type=int, default=None,
                      help="compare only this rank of A (a directory of per-rank TORCH_TRACE logs)")
    diff.add_argument("--rank-b", type=int, default=None, help="compare only this rank of B")
    diff.add_argument("--show-secrets", action="store_true",
                      help="do not redact secret-looking env values (tokens, keys, passwords)")
    diff.set_defaults(func=_cmd_diff)
    factors = sub.add_parser("factors", help="dump this process's cache-key factors (no compile)")
    factors.add_argument("--out", default="factors.json")
    factors.add_argument("--show-secrets", action="store_true",
                         help="do not redact secret-looking env values")
    factors.set_defaults(func=_cmd_factors)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``compile-lens`` and ``python -m compile_lens``."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except CompileLensError as exc:
        print(f"compile-lens: error: {one_line(exc)}", file=sys.stderr)
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"compile-lens: error: {visible(where)}{exc.strerror or one_line(exc)}",
              file=sys.stderr)
    except Exception as exc:  # a bug must not exit 1, which means "keys differ"
        print(f"compile-lens: error: unexpected {type(exc).__name__}: {one_line(exc)} "
              "(a bug in compile_lens; please report it)", file=sys.stderr)
    return 2
