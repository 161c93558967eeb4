"""The package's layers, checked from its source: every import (inside functions too) goes down.

The contract is ``[tool.importlinter]`` in pyproject.toml, drawn in docs/design.md, and
import-linter checks it (its layers and forbidden contracts): a module imports only
modules of lower layers; the engine imports no xarray, Dask, Zarr or plotting. Here,
what import-linter does not check: every module is in a layer; no module imports
another's private names or reads another package's private attributes (but the few
listed, each with its reason); the import graph, within packages too, has no cycle. A
lazy import (inside a function) counts as any other: it may save start-up time, it may
not hide a cycle.
"""

from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "ibl_xvideo"


def _contracts() -> list[dict]:
    try:
        import tomllib
    except ImportError:  # Python 3.10: import-linter's own dependency reads it
        tomllib = pytest.importorskip("tomli")
    with open(ROOT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["tool"]["importlinter"]["contracts"]


def _layer_modules() -> list[set]:
    """The modules of each layer of the contract, top to bottom (``qc`` for the ``qc`` package)."""
    layers = next(c for c in _contracts() if c["type"] == "layers")["layers"]
    return [{m.strip() for m in layer.replace(":", "|").split("|")} for layer in layers]


def test_the_layer_contracts_hold():
    importlinter = pytest.importorskip("importlinter.cli")
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        assert importlinter.lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True) == 0
    finally:
        os.chdir(cwd)


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


def _layer(module: str) -> int:
    """Rank from the top of the layer of a module (``qc.run`` is in ``qc``'s)."""
    top = module.split(".")[0]
    for rank, members in enumerate(_layer_modules()):
        if top in members:
            return rank
    raise AssertionError(f"module {module} is in no layer: add it to pyproject.toml's contract (and docs/design.md)")


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


def test_only_entry_points_import_the_package_root():
    _, edges = _graph()
    wrong = [f"{src}:{line} imports the package root (entry points only)" for src, dst, _, line in edges
             if dst == "" and _layer(src) != 0]
    assert not wrong, "\n".join(wrong)


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


#: Private attributes of other packages read on purpose, each with its reason (xarray has no public way to
#: reach a variable's array without loading a lazily indexed one).
PRIVATE_ATTRIBUTES = {
    ("events", "camera.variable._data"): "xarray: the variable's array as it is, not loaded",
    ("engine.planning", "arr.variable._data"): "xarray: the variable's array as it is, not loaded",
    ("store.values", "arr.variable._data"): "xarray: the variable's array as it is, not loaded",
}


def _private_attributes(path: Path) -> list[tuple[str, int]]:
    """``x._name`` reads of a module where ``_name`` is not the module's own (assigned or defined in it) and
    ``x`` is not ``self`` or ``cls`` (a class's own attributes, its bases' included)."""
    tree = ast.parse(path.read_text())
    own = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            own.add(node.name)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            own.add(node.attr)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            own.add(node.id)
    return [(ast.unparse(node), node.lineno) for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__")
            and node.attr not in own and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))]


def test_no_module_reads_another_s_private_attributes():
    found = {(name, expr): line for name, path in _modules().items() for expr, line in _private_attributes(path)}
    wrong = [f"{name}:{line} reads {expr}" for (name, expr), line in found.items() if (name, expr)
             not in PRIVATE_ATTRIBUTES]
    assert not wrong, "\n".join(wrong)
    gone = set(PRIVATE_ATTRIBUTES) - set(found)
    assert not gone, f"listed but no longer read: {gone}"


def test_the_private_attribute_check_finds_one(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("from ibl_xvideo.qc import imgproc\n\n\ndef f(a):\n"
                     "    return imgproc._buffers, a._meta, self._own\n")
    assert [e for e, _ in _private_attributes(probe)] == ["imgproc._buffers", "a._meta"]  # self's: its own


#: What the package keeps between calls, module by module: each bounded (its bound here, the table of
#: docs/design.md "State kept by the process" says the same). Anything else made at module level from a call
#: (or a module-level dict, list or set that is changed, or a name assigned through ``global``) fails the test.
PROCESS_STATE = {
    ("_shared", "CACHE"): "the byte cache: IBL_XVIDEO_CACHE_MB (384 MiB)",
    ("_shared", "_POOL"): "the shared thread pool: the cores, at least 4 threads",
    ("_shared", "_POOL_LOCK"): "the lock that makes that pool once",
    ("_shared", "_scratch"): "each thread's scratch arrays: SCRATCH_PER_THREAD (64) a thread",
    ("engine.decode", "DECODERS"): "each thread's open decoders: 4 a thread; the last 4096 videos closed",
    ("engine.decode", "STATS"): "two counters",
    ("io.remote", "_POOL"): "urllib3's connection pool: 16 hosts x 16 connections",
    ("io.remote", "_POOL_LOCK"): "the lock that makes that pool once",
    ("io.remote", "INFLIGHT"): "the blocks being fetched: the requests running",
    ("io.remote", "STATS"): "counters: the bytes of the last 4096 URLs read (SOURCES_COUNTED)",
    ("io.sources", "_DEFAULT_ONES"): "the ONE made for eids: one per ONE settings file and demo folder",
}
#: Calls whose result never changes (constants made by a call).
_CONSTANT_CALLS = {"frozenset", "tuple", "re.compile", "logging.getLogger", "np.dtype", "np.float32", "np.uint64",
                   "Fraction", "urllib3.Retry", "memoryview", "TypeVar"}
_MUTATORS = {"append", "extend", "update", "pop", "popitem", "clear", "add", "setdefault", "insert", "remove",
             "discard"}


def _module_state(path: Path) -> dict[str, str]:
    """The module-level names of a module that hold state, with what makes them (see :data:`PROCESS_STATE`);
    ``functools.lru_cache`` without a size counts as state too."""
    tree = ast.parse(path.read_text())
    made, containers, changed = {}, set(), set()
    for node in tree.body:
        if isinstance(node, ast.Assign):
            targets, value = [t for t in node.targets if isinstance(t, ast.Name)], node.value
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            continue
        for t in targets:
            if isinstance(value, ast.Call) and ast.unparse(value.func) not in _CONSTANT_CALLS:
                made[t.id] = f"{ast.unparse(value.func)}()"
            elif isinstance(value, (ast.Dict, ast.List, ast.Set, ast.DictComp, ast.ListComp, ast.SetComp)):
                containers.add(t.id)
    for node in ast.walk(tree):
        if isinstance(node, ast.Global):
            made.update({name: "global" for name in node.names if name not in made})
        elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Store) and isinstance(node.value, ast.Name):
            changed.add(node.value.id)
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in _MUTATORS
              and isinstance(node.func.value, ast.Name)):
            changed.add(node.func.value.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for deco in node.decorator_list:
                text = ast.unparse(deco)
                if text in ("functools.cache", "cache", "functools.lru_cache") or "maxsize=None" in text:
                    made[node.name] = f"unbounded {text}"
    return {**made, **{name: "a changed container" for name in containers & changed}}


def test_process_state_is_only_what_is_listed():
    found = {(name, var): how for name, path in _modules().items() for var, how in _module_state(path).items()}
    unlisted = [f"{m}.{v} ({how})" for (m, v), how in found.items() if (m, v) not in PROCESS_STATE]
    assert not unlisted, "module-level state not in PROCESS_STATE (bound it, or make it a caller's): " + \
        ", ".join(unlisted)
    gone = set(PROCESS_STATE) - set(found)
    assert not gone, f"listed but no longer kept: {gone}"


def test_the_state_check_finds_each_kind(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("import functools\nimport threading\n\nLOCAL = threading.local()\nSEEN = {}\nTABLE = {1: 2}\n"
                     "NAMES = frozenset({'a'})\n\n\n@functools.cache\ndef f():\n    global COUNT\n    COUNT = 1\n"
                     "    SEEN[1] = TABLE[1]\n")
    assert _module_state(probe) == {"LOCAL": "threading.local()", "COUNT": "global", "f": "unbounded functools.cache",
                                    "SEEN": "a changed container"}
