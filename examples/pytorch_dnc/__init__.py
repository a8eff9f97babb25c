"""ixaxaar/pytorch-dnc, unmodified, as a diffmem backend (spec dnc/1): ``adapter.py``
(``make_backend``), ``observe.py`` (the trace), ``patches.py`` (one per difference from
dnc/1), ``walkthrough.py`` (writes docs/pytorch-dnc.md).  pytorch-dnc is never copied
here: clone it and put it on PYTHONPATH (README.md)."""

from .adapter import make_backend

__all__ = ["make_backend"]
