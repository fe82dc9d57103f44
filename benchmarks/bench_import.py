"""Benchmark: opening a >= 100 MB TORCH_TRACE log, tlparse 0.4.3 against ``compile_lens.load``.

The log is built from tlparse's real test logs (``tests/fixtures/torch_trace``): copies of them
one after the other, each copy's Dynamo frame ids shifted so that every copy brings fresh compile
ids (only envelopes change, so every payload still matches its md5). Both tools run in fresh child
processes on the same file in the same run; wall time and peak resident memory (``ru_maxrss`` of
the child) are measured side by side. ``compile_lens`` is timed to a ready summary, then the
report is rendered from the loaded trace (time and size).

Goals (issue 10): summary in <= 1/2 of tlparse's wall time and <= 1/2 of its peak memory; the
report in <= 2 s and <= 10 MB. Usage::

    pip install tlparse==0.4.3
    python benchmarks/bench_import.py [--mb 100] [--json]
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ["cache_hit_miss.log.gz", "autotune_with_compile_id.log.gz", "simple.log.gz",
           "multi_rank_logs/dedicated_log_torch_trace_rank_1.log.gz", "comp_failure.log"]
_FRAME = re.compile(rb'"frame_id": (\d+)')

CHILD = r"""
import json, resource, sys, time
start = time.perf_counter()
import compile_lens
trace = compile_lens.load(sys.argv[1])
summary = str(trace.summary())
ready = time.perf_counter() - start
t = time.perf_counter()
html = trace.to_html(sys.argv[2])
render = time.perf_counter() - t
print(json.dumps({"summary_s": ready, "render_s": render, "report_bytes": len(html.encode()),
                  "graphs": len(trace.record.graphs), "compiles": len(trace.record.compiles),
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "first_line": summary.splitlines()[0]}))
"""


def build_log(path: Path, megabytes: int) -> int:
    """Write a log of at least ``megabytes`` MB from copies of real logs; returns its size."""
    texts = []
    for name in SOURCES:
        raw = (ROOT / "tests/fixtures/torch_trace" / name).read_bytes()
        texts.append(gzip.decompress(raw) if name.endswith(".gz") else raw)
    size, copy = 0, 0
    with path.open("wb") as out:
        while size < megabytes << 20:
            for text in texts:
                shift = copy * 1000
                data = _FRAME.sub(lambda m, s=shift: b'"frame_id": %d' % (int(m.group(1)) + s),
                                  text.replace(b"\r\n", b"\n"))
                out.write(data)
                size += len(data)
                copy += 1
    return size


def run_tlparse(log: Path, out: Path) -> dict[str, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    subprocess.run(["tlparse", str(log), "-o", str(out), "--no-browser", "--overwrite"],
                   check=True, capture_output=True)
    wall = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {"wall_s": wall, "peak_mb": max(peak, before) / 1024,
            "files": sum(1 for p in out.rglob("*") if p.is_file())}


def run_compile_lens(log: Path, report: Path) -> dict[str, object]:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", CHILD, str(log), str(report)], check=True,
                          capture_output=True, text=True)
    found = json.loads(proc.stdout.strip().splitlines()[-1])
    found["process_wall_s"] = time.perf_counter() - start
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=100, help="log size in MB (default 100)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if shutil.which("tlparse") is None:
        sys.exit("tlparse is not installed: pip install tlparse==0.4.3")
    version = subprocess.run(["tlparse", "--version"], capture_output=True, text=True,
                             check=True).stdout.strip()
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "big.log"
        size = build_log(log, args.mb)
        # compile_lens first: tlparse's peak is read from RUSAGE_CHILDREN, a running maximum
        ours = run_compile_lens(log, Path(tmp) / "report.html")
        theirs = run_tlparse(log, Path(tmp) / "tl_out")
    result = {"log_mb": round(size / 2**20, 1), "tlparse": version, "tlparse_run": theirs,
              "compile_lens": ours}
    if args.json:
        print(json.dumps(result, indent=1))
        return
    print(f"log: {result['log_mb']} MB ({ours['graphs']} graphs, {ours['compiles']} compiles)\n")
    print("| | wall (s) | peak RSS (MB) |")
    print("|---|---|---|")
    print(f"| {version} (writes {theirs['files']} files) | {theirs['wall_s']:.2f} | "
          f"{theirs['peak_mb']:.0f} |")
    print(f"| compile_lens.load + summary | {ours['summary_s']:.2f} "
          f"(process {ours['process_wall_s']:.2f}) | {ours['peak_mb']:.0f} |")
    print(f"\nratio: wall {ours['summary_s'] / theirs['wall_s']:.2f}, "
          f"memory {ours['peak_mb'] / theirs['peak_mb']:.2f} (goal <= 0.5 each)")
    print(f"report: {ours['render_s']:.2f} s, {ours['report_bytes'] / 2**20:.1f} MB "
          "(goal <= 2 s, <= 10 MB)")


if __name__ == "__main__":
    main()
