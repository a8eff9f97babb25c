"""Package layout (the rest of the metadata is in pyproject.toml).

The design card keeps reference/, backends/, harness/, fixtures/, models/ ... at the top
of the repository; each installs as a sub-package of one ``diffmem`` namespace, so a
user's environment gains no top-level ``reference`` or ``harness`` module.  Every folder
with an ``__init__.py`` below them is found here, so a new model family (a folder under
models/) needs no line in this file.
"""

import pathlib

from setuptools import setup

ROOT = pathlib.Path(__file__).resolve().parent
TOP = ("reference", "backends", "harness", "fixtures", "models", "training", "pretrained")

packages, package_dir = ["diffmem"], {"diffmem": "src/diffmem"}
for top in TOP:
    for init in sorted((ROOT / top).rglob("__init__.py")):
        folder = init.parent.relative_to(ROOT)
        if any(part.startswith((".", "__")) for part in folder.parts):
            continue
        name = "diffmem." + ".".join(folder.parts)
        packages.append(name)
        package_dir[name] = folder.as_posix()

setup(
    packages=packages,
    package_dir=package_dir,
    package_data={
        "diffmem.fixtures": ["*.npz", "*.json"],
        "diffmem.pretrained": ["*.npz", "*.json"],
        "diffmem.harness": ["spec/*.md"],
        **{name: ["*.md", "spec/*.md"] for name in packages if name.startswith("diffmem.models.")},
    },
)
