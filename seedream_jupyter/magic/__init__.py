"""``%%seedream`` (the cell body is the prompt) and ``%seedream`` (commands).

- ``core``: ``SeedreamMagic`` and its ``%config`` traitlets (handed to the session).
- ``args``: the option parser, ``VAR <<``, ``{name}`` interpolation, ``-i`` images.
- ``commands``: the line commands, in one registry. ``help``: the help text.
"""

from __future__ import annotations

from .core import SeedreamMagic, load_ipython_extension, unload_ipython_extension

__all__ = ["SeedreamMagic", "load_ipython_extension", "unload_ipython_extension"]
