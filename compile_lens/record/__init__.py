"""Stage 2: the parser. Turns a stream of structured-trace records into model records.

Torch-free: it reads ``RawEvent``s (from a live ``trace()`` block, the session directory of other
processes, or a TORCH_TRACE log) and never imports torch or vLLM, so a trace recorded elsewhere
opens here through the same code path as a live one.
"""
