"""Stage 2: the parser. Turns a stream of structured-trace records into model records.

Torch-free: it reads ``RawEvent``s (from a live ``trace()`` block, the session directory of other
processes, or a TORCH_TRACE log) and never imports torch or vLLM, so a trace recorded elsewhere
opens here through the same code path as a live one.

* ``raw``: ``RawEvent`` and the JSONL sinks; ``merge``: other processes' session files;
* ``recorder``: ``TraceBuilder`` and ``HANDLERS``, the ``{record name: rule}`` table (a new rule is
  one entry); ``names``: records known but not read yet; ``stats``: what was handled, unknown or
  malformed; ``causes``, ``vllm_artifacts``/``vllm_account``: rules of their own;
  ``graph_text``, ``lowering``, ``timing``, ``gpu_lowering``: text parsers the rules use;
* ``torch_trace`` (+ ``log_stream``): TORCH_TRACE logs as ``RawEvent``s; ``importer``: a log or a
  directory of them as a ``TraceRecord``; ``open``: any path, told by content.
"""
