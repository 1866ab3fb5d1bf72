"""The sweep scripts' default recipes, read from the learner modules' ``register_learner`` calls.

    python metaprompt/learners/recipes.py   ->  one line per learner: NAME RECIPE [DATASET=RECIPE ...]

scripts/_common.sh runs this file by path: it parses the learner modules (their name, ``recipe``
and ``dataset_recipes`` arguments must be literals) instead of importing them, so a script's
default recipe costs no torch import. ``tests/test_trainer_recipes.py`` checks that it agrees with
the imported registry.
"""
from __future__ import annotations

import ast
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def _registrations(path: str) -> list[tuple[str, str, dict]]:
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), path)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "register_learner":
            kw = {k.arg: k.value for k in node.keywords}
            name = ast.literal_eval(node.args[0] if node.args else kw["name"])
            recipe = ast.literal_eval(node.args[3] if len(node.args) > 3 else kw["recipe"])
            per_dataset = ast.literal_eval(kw["dataset_recipes"]) if "dataset_recipes" in kw else {}
            found.append((name, recipe, per_dataset))
    return found


def recipe_lines(folder: str = HERE) -> dict[str, str]:
    """Learner name -> ``"NAME RECIPE [DATASET=RECIPE ...]"``, for every learner module in ``folder``."""
    lines = {}
    for fname in sorted(os.listdir(folder)):
        if fname.endswith(".py"):
            for name, recipe, per_dataset in _registrations(os.path.join(folder, fname)):
                lines[name] = " ".join([name, recipe, *(f"{d}={r}" for d, r in per_dataset.items())])
    return lines


if __name__ == "__main__":
    print("\n".join(recipe_lines().values()))
    sys.exit(0)
