"""The layout the design card asks for, read from the source.

Import arrows point one way: no cycle between modules or between top-level packages,
counting every import (inside functions too), and models/ at the bottom.  Words match the
code: every dotted name of diffmem that a docstring or a doc page writes
(``diffmem.models.bind``, ``harness.compare.run_case``) names something that exists.

The graph is read from the source with ``ast``: an edge goes from a module to each
diffmem module it names (``import diffmem.a.b``, ``from diffmem.a import b`` where ``b``
is a module, else ``diffmem.a`` itself; relative imports resolved).  A package's
``__init__`` is a module like any other: importing ``diffmem.a.b`` is not counted as
importing ``diffmem.a``'s ``__init__``.
"""

import ast
import importlib
import pathlib
import re

import pytest

import diffmem

# The installed package's folders (the editable install maps each to its top-level
# folder of the repository: setup.py).
TOP = ("reference", "backends", "harness", "models", "training", "pretrained", "fixtures")
# What models/ must not import: everything above it (diffmem.usage, the leaf module of
# the one-line usage error, sits beside it).
ABOVE_MODELS = ("diffmem.backends", "diffmem.training", "diffmem.pretrained",
                "diffmem.harness", "diffmem.cli")


def _roots():
    src = pathlib.Path(diffmem.__file__).resolve().parent
    roots = {"diffmem": src}
    for top in TOP:
        roots[f"diffmem.{top}"] = pathlib.Path(__import__(f"diffmem.{top}", fromlist=["_"])
                                              .__file__).resolve().parent
    return roots


def modules() -> dict:
    """module name -> (path, is a package)."""
    out = {}
    for name, root in _roots().items():
        if name == "diffmem":
            for path in root.glob("*.py"):
                stem = path.stem
                out["diffmem" if stem == "__init__" else f"diffmem.{stem}"] = (path, stem == "__init__")
            continue
        for path in root.rglob("*.py"):
            rel = path.relative_to(root).with_suffix("").parts
            if any(part.startswith(".") for part in rel):
                continue
            is_pkg = rel[-1] == "__init__"
            parts = rel[:-1] if is_pkg else rel
            out[".".join((name,) + parts)] = (path, is_pkg)
    return out


def _targets(node, here, is_pkg, known):
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    if node.level:
        base = here.split(".") if is_pkg else here.split(".")[:-1]
        base = base[:len(base) - (node.level - 1)]
        stem = ".".join(base + ([node.module] if node.module else []))
    else:
        stem = node.module or ""
    out = []
    for alias in node.names:
        sub = f"{stem}.{alias.name}"
        out.append(sub if sub in known else stem)
    return out


def graph() -> dict:
    """module -> set of diffmem modules it imports (anywhere in its source)."""
    known = modules()
    edges = {}
    for name, (path, is_pkg) in known.items():
        tree = ast.parse(path.read_text(), str(path))
        found = set()
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for target in _targets(node, name, is_pkg, known):
                    while target and target not in known:   # diffmem.a.b.attr -> diffmem.a.b
                        target = target.rpartition(".")[0]
                    if target.startswith("diffmem") and target != name:
                        found.add(target)
        edges[name] = found
    return edges


def package(module: str) -> str:
    """The top-level folder of a module ('diffmem.harness.compare' -> 'harness'), or the
    module itself for src/diffmem's files ('diffmem.cli')."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in TOP else module


def cycles(edges: dict) -> list:
    """Every strongly connected component of more than one node (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))
    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def test_the_graph_sees_imports_inside_functions():
    edges = graph()
    # models/ntm/__init__ imports its bug catalogue inside FAMILY.bugs().
    assert "diffmem.models.ntm.bugs" in edges["diffmem.models.ntm"]
    assert "diffmem.models.family" in edges["diffmem.models"]


def test_no_import_cycle_between_modules():
    assert cycles(graph()) == []


def test_no_import_cycle_between_packages():
    edges = {}
    for source, targets in graph().items():
        edges.setdefault(package(source), set()).update(
            package(t) for t in targets if package(t) != package(source))
    assert cycles(edges) == []


def test_models_import_nothing_above_them():
    bad = sorted(f"{source} -> {target}" for source, targets in graph().items()
                 if source.startswith("diffmem.models") for target in targets
                 if target.startswith(ABOVE_MODELS))
    assert bad == []


# ---------------------------------------------------------------- dotted names

REPO_DOCS = ("docs", "README.md", "models")   # pages, relative to the repository
# ``diffmem.a.b`` anywhere; ``harness.compare`` (no prefix) where inline code starts with it.
NAME = re.compile(r"(?<![\w/.\-])diffmem(?:\.[A-Za-z_]\w*)+|(?<=`)(?:" + "|".join(TOP)
                  + r")(?:\.[A-Za-z_]\w*)+")
FILE_SUFFIXES = {"py", "md", "sh", "toml", "npz", "json", "txt", "png", "svg", "pdf"}


def resolves(dotted: str) -> bool:
    parts = dotted.split(".")
    if parts[0] != "diffmem":
        parts = ["diffmem"] + parts
    for cut in range(len(parts), 1, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:]:
            if not hasattr(obj, attr):
                return False
            obj = getattr(obj, attr)
        return True
    return False


def names_in(text):
    for match in NAME.finditer(text):
        name = match.group(0)
        if name.rsplit(".", 1)[-1] not in FILE_SUFFIXES:
            yield name


def docstrings():
    """(where, text) of every module, class and function docstring of diffmem."""
    for module, (path, _) in sorted(modules().items()):
        tree = ast.parse(path.read_text())
        for node in [tree] + [n for n in ast.walk(tree) if isinstance(
                n, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))]:
            doc = ast.get_docstring(node, clean=False)
            if doc:
                yield f"{module}:{getattr(node, 'lineno', 1)}", doc


def pages():
    root = pathlib.Path(diffmem.__file__).resolve().parents[2]
    if not (root / "docs").is_dir():
        pytest.skip("the docs are in the repository, not in an installed package")
    for entry in REPO_DOCS:
        path = root / entry
        for page in sorted(path.rglob("*.md")) if path.is_dir() else [path]:
            yield str(page.relative_to(root)), page.read_text()


@pytest.mark.parametrize("source", ["docstrings", "docs"])
def test_every_dotted_name_resolves(source):
    texts = docstrings() if source == "docstrings" else pages()
    broken = sorted({f"{where}: {name}" for where, text in texts for name in names_in(text)
                     if not resolves(name)})
    assert broken == []


def _private_uses(tree):
    """Names with one leading underscore this module takes from another: ``from m import
    _x`` and ``m._x`` on an imported module ``m``."""
    imported = {a.asname or a.name for n in ast.walk(tree) if isinstance(n, ast.Import)
                for a in n.names if a.name.startswith("diffmem")}
    imported |= {a.asname or a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)
                 and (n.level or (n.module or "").startswith("diffmem")) for a in n.names}
    for n in ast.walk(tree):
        if isinstance(n, ast.ImportFrom) and (n.module or "").split(".")[0] in ("", "diffmem") \
                or isinstance(n, ast.ImportFrom) and n.level:
            for a in n.names:
                if a.name.startswith("_") and not a.name.startswith("__"):
                    yield f"from {'.' * n.level}{n.module or ''} import {a.name}"
        if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) \
                and n.value.id in imported and n.attr.startswith("_") \
                and not n.attr.startswith("__"):
            yield f"{n.value.id}.{n.attr}"


def test_no_private_name_is_used_across_modules():
    # A name with a leading underscore is its module's own; another module that needs it
    # needs a public name (the compare / verdict / localise split once crossed them).
    found = {name: sorted(set(_private_uses(ast.parse(path.read_text()))))
             for name, (path, _) in modules().items()}
    found = {k: v for k, v in found.items() if v}
    assert not found, found
