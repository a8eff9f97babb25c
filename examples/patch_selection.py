"""Choosing patches by name or count, shared by the case studies' ``patches.py``
(examples/pytorch_ntm, examples/pytorch_dnc): their environment variables
(``DIFFMEM_PYNTM_PATCHES``, ``DIFFMEM_PYDNC_PATCHES``) take the same forms.

Imported as ``examples.patch_selection``: the case studies run from the repository root
(``PYTHONPATH=.``), as their READMEs and docs/pytorch-*.md say.
"""

from __future__ import annotations


def select(spec, patches, env) -> tuple:
    """'all' (or None), 'none', a count k (the first k), or comma-separated names (or a
    list of names) -> those of ``patches`` (objects with a ``name``), in ``patches``
    order.  ``env`` names the setting in the error: a bad count or an unknown name is a
    ValueError that lists what is allowed."""
    patches = tuple(patches)
    names = tuple(p.name for p in patches)
    if spec is None or spec == "all":
        return patches
    if isinstance(spec, int) or (isinstance(spec, str) and spec.strip().isdigit()):
        k = int(spec)
        if not 0 <= k <= len(patches):
            raise ValueError(f"{env}: expected a count 0-{len(patches)}, got {k}")
        return patches[:k]
    wanted = [n.strip() for n in spec.split(",") if n.strip()] if isinstance(spec, str) \
        else list(spec)
    if wanted in (["none"], []):
        return ()
    unknown = [n for n in wanted if n not in names]
    if unknown:
        raise ValueError(f"{env}: unknown patch(es) {', '.join(unknown)}; expected 'all', "
                         f"'none', a count or names from {', '.join(names)}")
    return tuple(p for p in patches if p.name in wanted)
