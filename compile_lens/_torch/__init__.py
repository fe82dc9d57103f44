"""Torch helpers shared by the producers of events, ``instrument/`` and ``backend/``.

Neither producer may import the other, and neither belongs under ``model/`` … ``views/`` (which
never import torch), so the helpers both need live here: ``patching`` (the one declared way to
patch a torch or vLLM attribute, restored in ``finally``) and ``keys`` (the AOTAutograd cache keys
of a piece). Only ``instrument/`` and ``backend/`` import this package.
"""
