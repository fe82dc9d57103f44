"""The embedded piecewise backend: a compiler (not an observer) that does what vLLM's does.

Split a Dynamo graph at chosen ops, compile each other piece with real Inductor (standalone
compile), dedup identical pieces by their up-front cache key, keep a persistent artifact cache,
and on CUDA capture CUDA graphs in vLLM's modes (none, piecewise, full, full_and_piecewise). It
reports its work through ``compile_lens._events`` so the same instruments observe it and vLLM.
"""
