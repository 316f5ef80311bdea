"""The package's layout holds: folders are layers, imports run one way, modules and functions stay small.

An AST walk over ``src/bordersim`` builds the graph of the package's own imports (at module level and
inside functions) and checks: no cycle; every import goes down the layers (or stays in its layer);
no module over 600 lines; no function over 100 lines; at most 8 imports of the package's own modules
inside functions (lazy imports of heavy optional dependencies such as pyabc, dask, SALib or
matplotlib do not count).
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "bordersim"
#: Layers from the top down; a module may import from its own layer and the layers below it.
LAYERS = ["__init__", "cli", "explore", "experiments", "archive", "model", "world", "inference", "base"]
BASE = {"io", "errors", "_version"}
MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 100
MAX_LAZY_INTERNAL_IMPORTS = 8


def module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def layer_of(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1:
        return "__init__"
    top = parts[1]
    return "base" if top in BASE else top


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = module.split(".")
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def internal_imports(module: str, path: Path, known: set[str]) -> list[tuple[str, int, bool]]:
    """(imported module, line, inside a function) for every import of the package's own modules."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    is_package = path.name == "__init__.py"
    out = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.Import):
                for a in child.names:
                    if a.name.split(".")[0] == "bordersim":
                        out.append((a.name, child.lineno, in_function))
            elif isinstance(child, ast.ImportFrom):
                target = _resolve(module, is_package, child)
                if target.split(".")[0] != "bordersim":
                    continue
                for a in child.names:  # `from . import x` may import a submodule x
                    sub = f"{target}.{a.name}"
                    out.append((sub if sub in known else target, child.lineno, in_function))
            visit(child, inner)

    visit(tree, False)
    return out


def graph() -> dict[str, list[tuple[str, int, bool]]]:
    mods = modules()
    known = set(mods)
    return {m: internal_imports(m, p, known) for m, p in mods.items()}


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def dfs(n: str) -> list[str] | None:
        state[n] = 1
        stack.append(n)
        for m in sorted(edges.get(n, ())):
            if state.get(m) == 1:
                return stack[stack.index(m) :] + [m]
            if state.get(m) is None:
                found = dfs(m)
                if found:
                    return found
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(edges):
        if state.get(n) is None:
            found = dfs(n)
            if found:
                return found
    return None


def function_sizes() -> list[tuple[int, str]]:
    sizes = []
    for m, p in modules().items():
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                sizes.append((node.end_lineno - node.lineno + 1, f"{m}.{node.name}"))
    return sorted(sizes, reverse=True)


def test_no_import_cycle():
    g = graph()
    # A package's own submodules are not imported "through" it: an edge to a package means its __init__.
    edges = {m: {t for t, _, _ in imps if t != m} for m, imps in g.items()}
    assert find_cycle(edges) is None, f"import cycle: {' -> '.join(find_cycle(edges))}"


def test_imports_run_down_the_layers():
    bad = []
    for m, imps in graph().items():
        src = LAYERS.index(layer_of(m))
        for target, line, _ in imps:
            dst = LAYERS.index(layer_of(target))
            if dst < src:
                bad.append(f"{m}:{line} imports {target} ({layer_of(m)} -> {layer_of(target)})")
    assert not bad, "imports against the layers:\n" + "\n".join(bad)


def test_few_lazy_internal_imports():
    lazy = [f"{m}:{line} {t}" for m, imps in graph().items() for t, line, inside in imps if inside]
    assert len(lazy) <= MAX_LAZY_INTERNAL_IMPORTS, "\n".join(lazy)


def test_module_and_function_sizes():
    big = [(len(p.read_text(encoding="utf-8").splitlines()), m) for m, p in modules().items()]
    assert max(big)[0] <= MAX_MODULE_LINES, sorted(big, reverse=True)[:3]
    fns = function_sizes()
    assert fns[0][0] <= MAX_FUNCTION_LINES, fns[:3]


def test_every_layer_is_a_folder_and_the_base_is_small():
    top = {p.name for p in PACKAGE.iterdir() if not p.name.startswith((".", "__pycache__"))}
    assert {"world", "model", "archive", "experiments"} <= top
    assert {p.removesuffix(".py") for p in top if p.endswith(".py")} == {"__init__", "cli"} | BASE


if __name__ == "__main__":  # the figures: python tests/test_layout.py
    g = graph()
    lines = sorted(((len(p.read_text(encoding="utf-8").splitlines()), m) for m, p in modules().items()), reverse=True)
    lazy = [(m, t) for m, imps in g.items() for t, _, inside in imps if inside]
    edges = {m: {t for t, _, _ in imps if t != m} for m, imps in g.items()}
    print(f"modules: {len(lines)}; largest: {lines[:3]}")
    print(f"largest functions: {function_sizes()[:3]}")
    print(f"lazy internal imports: {len(lazy)} {lazy}")
    print(f"cycles: {0 if find_cycle(edges) is None else find_cycle(edges)}")
