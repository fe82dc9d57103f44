"""Stage 1: observers. The only code that patches or listens to torch / vLLM internals.

Everything here records; nothing here changes what gets compiled, its cache keys or its outputs.
"""
