"""Data flows one way: no numalab module imports a module of a higher layer, and the vectorized
engine never imports the scalar reference it is tested against."""
import ast
import pathlib

import pytest

PKG = pathlib.Path(__file__).resolve().parent.parent / "numalab"

#: Layer of every module (by dotted name under numalab, the longest matching prefix wins).
LAYERS = {
    "errors": 0, "_io": 0, "_data": 0,
    "nodemask": 1, "kernel": 1, "gfp": 1,
    "topology": 2,
    "generators": 3, "slit": 3, "sources": 3, "qemu": 3,
    "zonelist": 4, "cpuset": 4, "reference": 4,
    "mempolicy": 5, "cgsets": 5,
    "alloc": 6, "cost": 6, "race": 6, "candidates": 6, "compare": 6,
    "viz": 7, "widgets": 7,
    "report": 8, "verify": 8,
    "cli": 9, "__main__": 9, "__init__": 9,
}


def layer_of(dotted: str) -> int:
    parts = dotted.split(".")
    for k in range(len(parts), 0, -1):
        key = ".".join(parts[:k])
        if key in LAYERS:
            return LAYERS[key]
    raise KeyError(f"module numalab.{dotted} has no layer in tests/test_layers.py: add it")


def modules():
    for path in sorted(PKG.rglob("*.py")):
        rel = path.relative_to(PKG).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__" and len(parts) > 1:
            parts = parts[:-1]
        yield ".".join(parts), path


def numalab_imports(dotted: str, path: pathlib.Path):
    tree = ast.parse(path.read_text(), filename=str(path))
    is_pkg = path.name == "__init__.py"
    here = dotted.split(".") if is_pkg else dotted.split(".")[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - (node.level - 1)] if node.level > 1 else here
                target = ".".join(base + ([node.module] if node.module else []))
                if node.module:
                    names = [target]
                else:  # `from . import nodemask` imports a module; `from .. import __version__` the root
                    names = []
                    for a in node.names:
                        sub = PKG.joinpath(*base, a.name)
                        if sub.with_suffix(".py").exists() or (sub / "__init__.py").exists():
                            names.append(".".join(base + [a.name]))
                        else:
                            names.append(".".join(base) or "__init__")
            elif node.module and node.module.split(".")[0] == "numalab":
                names = [node.module[len("numalab."):] if node.module != "numalab" else "__init__"]
            else:
                continue
            for name in names:
                yield (name or "__init__"), node.lineno
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("numalab."):
                    yield a.name[len("numalab."):], node.lineno


def test_every_module_has_a_layer():
    for dotted, _ in modules():
        layer_of(dotted)


def test_every_layer_names_a_module_that_exists():
    existing = {dotted for dotted, _ in modules()} | {"__init__"}
    missing = sorted(name for name in LAYERS if name not in existing)
    assert not missing, f"LAYERS names modules that do not exist: {missing}"


def _module_of(target: str, existing) -> str:
    """The module an import target lands in: itself, or the longest existing prefix (a name
    imported from a module, ``from .base import as_mask`` -> ``nodemask.base``)."""
    parts = target.split(".")
    for k in range(len(parts), 0, -1):
        if ".".join(parts[:k]) in existing:
            return ".".join(parts[:k])
    return "__init__"


def import_graph():
    """{module: {modules it imports}} over every static import, at module level or inside a
    function (a deferred import is still a dependency)."""
    mods = dict(modules())
    existing = set(mods) | {"__init__"}
    graph = {}
    for dotted, path in mods.items():
        graph[dotted] = {_module_of(t, existing) for t, _ in numalab_imports(dotted, path)} - {dotted}
    return graph


def find_cycles(graph) -> list:
    """Strongly connected components with more than one module (Tarjan), each sorted."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_import_circle():
    """No module imports, directly or through others, a module that imports it back (inside a
    layer too, e.g. generators <-> sources); deferred imports count."""
    assert find_cycles(import_graph()) == []


def test_the_circle_finder_sees_a_circle():
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert find_cycles({"a": {"b"}, "b": set()}) == []


@pytest.mark.parametrize("dotted,path", list(modules()), ids=lambda x: str(x) if isinstance(x, str) else "")
def test_no_upward_import(dotted, path):
    mine = layer_of(dotted)
    for target, line in numalab_imports(dotted, path):
        if target in ("", "__init__") or target.split(".")[0] == "__init__":
            if dotted.split(".")[0] not in ("cli", "__main__", "__init__", "report"):
                # importing the package root pulls in everything: only the faces may
                pytest.fail(f"numalab.{dotted} line {line} imports the package root")
            continue
        theirs = layer_of(target)
        assert theirs <= mine, (f"numalab.{dotted} (layer {mine}) imports numalab.{target} "
                                f"(layer {theirs}) at line {line}")
        if target.split(".")[0] == "reference":
            assert dotted.split(".")[0] == "reference", (
                f"numalab.{dotted} line {line}: the engine must not use the scalar reference")


def test_the_checker_sees_an_upward_import(tmp_path):
    bad = tmp_path / "zonelist.py"
    bad.write_text("from .mempolicy import x\nimport numalab.cli\nfrom . import alloc\nfrom . import __version__\n")
    found = [t for t, _ in numalab_imports("zonelist", bad)]
    assert found == ["mempolicy", "cli", "alloc", "__init__"]
    assert layer_of("mempolicy") > layer_of("zonelist")


def test_the_reference_is_independent_of_the_engine():
    """The scalar oracle may use the error type and kernel profiles, nothing it is compared with."""
    for dotted, path in modules():
        if dotted.split(".")[0] != "reference":
            continue
        for target, line in numalab_imports(dotted, path):
            assert target.split(".")[0] in ("errors", "kernel", "reference"), (
                f"numalab.{dotted} line {line} imports numalab.{target}")
