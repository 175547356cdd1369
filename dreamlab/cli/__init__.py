"""``python -m dreamlab`` / ``dreamlab``: the same backend API as the web app, from a shell.

One module per command (``models``, ``layers``, ``classify``, ``convolve``, ``dream`` with
``dream_video``, ``visualize``, ``train``, ``benchmark``, ``serve``), each with ``add(sub)`` and
``run(args)``; ``args`` holds what they share; ``parser`` assembles them and runs one. Choices and
defaults come from the engines' configs, never re-typed here. Importing this package loads no
engine (each command imports its own when it runs).
"""

from dreamlab.cli.parser import build_parser, main

__all__ = ["build_parser", "main"]
