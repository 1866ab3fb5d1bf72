"""The import graph of the package: no cycles, layers import one way, a light errors module.

Read from the source (every ``import``, at module level or inside a function), so a lazy import
does not hide a cycle. ``trainers/`` and ``datasets/`` count as ``metaprompt.trainers`` and
``metaprompt.datasets`` (how they install). The layer order is documented in docs/architecture.md.
"""
from __future__ import annotations

import ast
import os
import subprocess
import sys

from runs import REPO

# Bottom to top. A module may import its own group, or a group of a LOWER layer; groups of one
# layer are independent of each other. A new top-level module or subpackage must be placed here.
LAYERS: list[tuple[str, ...]] = [
    # 0: importing nothing of the project. ``metaprompt`` (the package) registers the plugins by
    # name, on use (metaprompt.register_all), never by an import statement.
    ("metaprompt", "metaprompt.errors", "metaprompt.layout", "metaprompt.corpus_files"),
    ("metaprompt.runtime", "metaprompt.clip"),  # Dassl-or-built-in; CLIP
    ("metaprompt.config", "metaprompt.learners"),  # config precedence (on the runtime); prompt learners
    ("metaprompt.results",),  # run logs and tables (the method order is the learner registry's)
    ("metaprompt.meta", "metaprompt.toyworld"),  # ProMetaR and the shared gradient machinery; the toy world
    ("metaprompt.meta.gram",),  # GRAM: meta-training, artefact, regulator
    ("metaprompt.trainers", "metaprompt.datasets"),  # the registered trainers and datasets
    ("metaprompt.cli", "metaprompt.sweep", "metaprompt.dassl_plugin"),  # entry points
]
FOLDERS = {"metaprompt": "metaprompt", "metaprompt.trainers": "trainers", "metaprompt.datasets": "datasets"}


def project_modules() -> dict[str, str]:
    """Module name -> file, for every module of the package."""
    modules = {}
    for package, folder in FOLDERS.items():
        root = os.path.join(REPO, folder)
        for dirpath, _, files in os.walk(root):
            for name in files:
                if name.endswith(".py"):
                    rel = os.path.relpath(os.path.join(dirpath, name), root)[:-3].replace(os.sep, ".")
                    rel = rel.removesuffix("__init__").rstrip(".")
                    modules[f"{package}.{rel}" if rel else package] = os.path.join(dirpath, name)
    return modules


def imports(name: str, path: str, modules: dict[str, str]) -> set[str]:
    """The project modules ``name`` imports (``from pkg import mod`` counts ``pkg.mod``)."""
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read())
    package = name if path.endswith("__init__.py") else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module
            targets = [module] + [f"{module}.{alias.name}" for alias in node.names]
        else:
            continue
        for target in targets:
            top = target.split(".")[0]
            if top in ("trainers", "datasets"):  # the repository-root names of the two folders
                target = f"metaprompt.{target}"
            if target in modules and target != name:
                found.add(target)
    return found


def graph() -> dict[str, set[str]]:
    modules = project_modules()
    return {name: imports(name, path, modules) for name, path in modules.items()}


def group_of(module: str) -> str | None:
    groups = [g for layer in LAYERS for g in layer if module == g or module.startswith(g + ".")]
    return max(groups, key=len) if groups else None


def layer_of(group: str) -> int:
    return next(i for i, layer in enumerate(LAYERS) if group in layer)


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycles():
    assert cycles(graph()) == []


def test_the_cycle_finder_finds_one():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_layers_import_one_way():
    edges = graph()
    unplaced = sorted(m for m in edges if group_of(m) is None)
    assert not unplaced, f"place these modules in LAYERS (and docs/architecture.md): {unplaced}"
    wrong = []
    for module, targets in sorted(edges.items()):
        source = group_of(module)
        for target in sorted(targets):
            group = group_of(target)
            if group != source and layer_of(group) >= layer_of(source):
                wrong.append(f"{module} (layer {layer_of(source)}) imports {target} (layer {layer_of(group)})")
    assert not wrong, "\n".join(wrong)


def test_the_layer_check_sees_the_folders_and_function_level_imports():
    edges = graph()
    assert "metaprompt.trainers.prometar" in edges and "metaprompt.datasets.base" in edges
    assert "metaprompt.meta.gate" in edges["metaprompt.trainers.prometar"]
    assert "metaprompt.datasets.legacy_cache" in edges["metaprompt.datasets.base"]  # imported inside a method
    assert "metaprompt.results.render" in edges["metaprompt.results.tables"]  # likewise


LIGHT = """
import sys
before = set(sys.modules)
import metaprompt.errors
new = sorted(m for m in sys.modules if m not in before)
print(len(new), " ".join(new))
"""


def test_the_errors_module_is_light():
    proc = subprocess.run([sys.executable, "-c", LIGHT], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    count, *names = proc.stdout.split()
    assert names == ["metaprompt", "metaprompt.errors"], names  # no torch, no runtime, no trainer
    assert int(count) == 2
