"""The package's layers, checked from its source: every import (inside functions too) goes down.

The contract is ``LAYERS`` below, drawn in docs/design.md: a module imports only
modules of lower layers (or, within the I/O and consumer layers, the modules listed
below it there); no module imports another's private names; the import graph has no
cycle. A lazy import (inside a function) counts as any other: it may save start-up
time, it may not hide a cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "ibl_xvideo"

#: Top to bottom. A module may import any module of a lower layer; within a layer,
#: only as ORDER allows (an ordered layer lists its modules top to bottom).
LAYERS = [
    ("entry points", {"cli", "demo", "report", "accessor", "xarray_plugin", "rigscene", "synth"}),
    ("consumers", {"qc", "compat", "events", "pose", "clips", "verify", "nwbexport"}),
    ("xarray layer", {"camera"}),
    ("store", {"store"}),
    ("planning", {"planning"}),
    ("decode", {"decode"}),
    ("index", {"index"}),
    ("sources", {"sources"}),
    ("I/O", {"nwb", "container", "remote", "fileio", "_lru", "progress", "figures"}),
    ("errors", {"errors"}),
]
ORDER = {"I/O": ["nwb", "container", "remote", "figures", "fileio", "_lru", "progress"]}


def _modules() -> dict[str, Path]:
    """Module name (``camera``, ``qc.run``...) -> file, for every module but the package's ``__init__``."""
    out = {}
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if parts:
            out[".".join(parts)] = path
    return out


def _imports(name: str, path: Path):
    """``(imported module, names, line)`` of every import of the package in a module, at any depth."""
    tree = ast.parse(path.read_text())
    package = name.split(".")[:-1] if path.name != "__init__.py" else name.split(".")
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - (node.level - 1)] if node.level > 1 else package
                target = ".".join(base + ([node.module] if node.module else []))
            elif node.module and node.module.startswith("ibl_xvideo"):
                target = node.module[len("ibl_xvideo"):].lstrip(".")
            else:
                continue
            names = [a.name for a in node.names]
            if node.module is None:  # from . import x: a module, or a name of the package
                for a in names:
                    yield (f"{target}.{a}" if target else a), [a], node.lineno
            else:
                yield target, names, node.lineno
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("ibl_xvideo."):
                    yield a.name[len("ibl_xvideo."):], [], node.lineno


def _layer(module: str) -> tuple[int, int]:
    """(layer rank from the top, rank within an ordered layer) of a module (``qc.run`` is in ``qc``'s)."""
    top = module.split(".")[0]
    for rank, (title, members) in enumerate(LAYERS):
        if top in members:
            order = ORDER.get(title)
            return rank, order.index(top) if order else 0
    raise AssertionError(f"module {module} is in no layer: add it to LAYERS (and docs/design.md)")


def _graph():
    modules = _modules()
    edges = []
    for name, path in modules.items():
        for target, names, line in _imports(name, path):
            if target == "":  # the package root (the public facade): only entry points use it
                edges.append((name, "", names, line))
                continue
            while target not in modules and "." in target:  # from .qc.run import x -> qc.run
                target = target.rsplit(".", 1)[0]
            if target in modules:
                edges.append((name, target, names, line))
            elif "." not in target:  # from . import open_camera: the package root's name
                edges.append((name, "", names, line))
    return modules, edges


def test_every_module_is_in_a_layer():
    for name in _modules():
        _layer(name)


def allowed(src: str, dst: str) -> bool:
    """Whether module ``src`` may import module ``dst``."""
    (ls, os_), (ld, od) = _layer(src), _layer(dst)
    if ld != ls:
        return ld > ls
    title = LAYERS[ls][0]
    if title in ORDER:
        return od > os_
    return title == "entry points"  # the top may use itself; siblings elsewhere are independent


def test_imports_go_down_the_layers():
    _, edges = _graph()
    wrong = []
    for src, dst, _, line in edges:
        if dst == "":
            if _layer(src)[0] != 0:
                wrong.append(f"{src}:{line} imports the package root (entry points only)")
        elif src.split(".")[0] != dst.split(".")[0] and not allowed(src, dst):  # qc's own modules: cycles below
            wrong.append(f"{src}:{line} imports {dst}")
    assert not wrong, "imports against the layers:\n" + "\n".join(wrong)


def test_no_module_imports_another_s_private_names():
    _, edges = _graph()
    private = [f"{src}:{line} imports {dst}.{n}" for src, dst, names, line in edges
               for n in names if n.startswith("_") and not n.startswith("__") and dst != src]
    assert not private, "\n".join(private)


def test_the_import_graph_has_no_cycle():
    modules, edges = _graph()
    graph = {m: set() for m in modules}
    for src, dst, _, _ in edges:
        if dst and dst != src and not dst.startswith(src + "."):  # a package importing its own modules is fine
            graph[src].add(dst)
    state, stack = {}, []

    def visit(m):
        state[m] = "open"
        stack.append(m)
        for n in sorted(graph[m]):
            if state.get(n) == "open":
                raise AssertionError("import cycle: " + " -> ".join(stack[stack.index(n):] + [n]))
            if n not in state:
                visit(n)
        stack.pop()
        state[m] = "done"

    for m in sorted(graph):
        if m not in state:
            visit(m)


@pytest.mark.parametrize("source, target", [("camera", "cli"), ("decode", "camera"), ("fileio", "remote"),
                                            ("compat", "qc.run"), ("sources", "demo")])
def test_the_check_refuses_an_upward_import(source, target):
    """The contract check itself: imports against the layers are refused, the layers' own are not."""
    assert not allowed(source, target)
    assert allowed(target, source) or target == "qc.run"  # compat and qc are independent
