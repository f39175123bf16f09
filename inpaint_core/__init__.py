"""inpaint_core: what maskgen, benchmark and pconv_baseline share.

Conventions and formats live here once: masks and images (:mod:`.conventions`), hole-ratio buckets and the
one cell order (:mod:`.buckets`), mask files (:mod:`.maskio`), the dataset format (:mod:`.dataset`), files
(:mod:`.files`), named seed streams (:mod:`.seeds`), the plug-in registry (:mod:`.registry`), command-line
helpers (:mod:`.cli`), software versions (:mod:`.versions`), images (:mod:`.images`) and the metric networks
(:mod:`.nets`). Nothing here imports ``maskgen``, ``benchmark`` or ``pconv_baseline``.
"""
from __future__ import annotations

__version__ = "0.1.0"
