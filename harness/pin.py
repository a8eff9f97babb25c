"""The pin that ties the installed package to its golden fixtures.

Every case file is hashed in the fixture folder's ``manifest.json``; the manifest's own
sha256 is recorded here, in the code, so that a folder whose files were edited *and*
re-hashed (a float32 baseline loosened, say) no longer matches.  ``diffmem check`` and
the conformance suite refuse a fixture folder whose manifest differs from the pin unless
the user names that folder and asks for it (``--fixtures DIR --trust-fixtures``); the
report then records the folder's manifest hash.  ``diffmem fixtures generate`` into the
bundled folder rewrites the line below.
"""

from __future__ import annotations

import hashlib
import pathlib
import re

PINNED_MANIFEST_SHA256 = "e6be80fdf6b861087b6434bddaba2d95fb1192d03bed3d1f0a5a1dad9cb18050"

_PIN_LINE = re.compile(r'^PINNED_MANIFEST_SHA256 = "[0-9a-f]*"$', re.M)


class UnpinnedFixtures(ValueError):
    """A fixture folder whose manifest is not the pinned one."""


def manifest_sha256(directory) -> str:
    path = pathlib.Path(directory) / "manifest.json"
    if not path.is_file():
        raise UnpinnedFixtures(f"fixture folder {directory}: no manifest.json")
    return hashlib.sha256(path.read_bytes()).hexdigest()


def check_pinned(directory, trust: bool = False, option: str = "--fixtures DIR "
                 "--trust-fixtures") -> str:
    """The folder's manifest sha256 if it is the pinned one (or ``trust``); otherwise
    ``UnpinnedFixtures`` with what to do."""
    digest = manifest_sha256(directory)
    if digest == PINNED_MANIFEST_SHA256 or trust:
        return digest
    raise UnpinnedFixtures(
        f"fixture folder {directory}: its manifest (sha256 {digest[:16]}...) is not the one "
        f"this diffmem was released with ({PINNED_MANIFEST_SHA256[:16]}...): the fixtures "
        f"were regenerated, edited or re-hashed, and their stored baselines size the "
        f"bounds. Reinstall diffmem (or `git checkout -- fixtures/`), or, to check "
        f"against that folder anyway, name it and ask for it: {option}")


def write_pin(directory) -> str:
    """Record ``directory``'s manifest as the pinned one (rewrites this file)."""
    digest = manifest_sha256(directory)
    path = pathlib.Path(__file__)
    text = path.read_text(encoding="utf-8")
    path.write_text(_PIN_LINE.sub(f'PINNED_MANIFEST_SHA256 = "{digest}"', text, count=1),
                    encoding="utf-8")
    global PINNED_MANIFEST_SHA256
    PINNED_MANIFEST_SHA256 = digest
    return digest
