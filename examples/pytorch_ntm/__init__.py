"""A diffmem backend for loudinthecloud/pytorch-ntm (BSD-3, not on PyPI), run unmodified.

pytorch-ntm is not part of this repository: fetch it and put it on PYTHONPATH, e.g.

    git clone https://github.com/loudinthecloud/pytorch-ntm /tmp/pytorch-ntm
    PYTHONPATH=.:/tmp/pytorch-ntm DIFFMEM_PYNTM_PATCHES=none \\
        diffmem check --backend examples.pytorch_ntm:make_backend --dtype float64

``patches.py`` lists the differences from NTM.md and the patch that removes each;
``walkthrough.py`` re-runs the search and writes docs/pytorch-ntm.md.
"""

from .adapter import make_backend, unsupported_reason  # noqa: F401
