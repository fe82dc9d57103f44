"""Stage 3: pure functions over ``TraceRecord`` (no I/O, no display, no torch)."""
