"""Registering trainers and datasets: one class under two import paths is fine, two classes clash."""
import subprocess
import sys

import pytest

from runs import REPO

# From the repository root, `trainers` and `datasets` are importable both as top-level packages (the
# CoOp family's habit) and as metaprompt.trainers / metaprompt.datasets (how the package installs them).
BOTH_PATHS = """
import trainers.coop, datasets.oxford_pets
import metaprompt
from metaprompt.config import build_cfg
from metaprompt.runtime import DATASET_REGISTRY, TRAINER_REGISTRY
import metaprompt.trainers.coop, metaprompt.datasets.oxford_pets
assert trainers.coop.CoOp is not metaprompt.trainers.coop.CoOp  # really two module paths
assert TRAINER_REGISTRY.get("CoOp").__name__ == "CoOp"
assert DATASET_REGISTRY.get("OxfordPets").__name__ == "OxfordPets"
cfg = build_cfg(opts=["TRAINER.COOP.N_CTX", "8"])
assert cfg.TRAINER.COOP.N_CTX == 8
print("registered once")
"""


def test_same_class_under_two_import_paths_registers_once():
    proc = subprocess.run([sys.executable, "-c", BOTH_PATHS], cwd=REPO, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "registered once" in proc.stdout


def test_two_different_classes_with_one_name_are_an_error():
    from metaprompt.runtime import register_dataset, register_trainer
    from metaprompt.trainers.base import PromptTrainer

    class CoOp(PromptTrainer):  # noqa: F811  (deliberately the name of a registered trainer)
        pass

    with pytest.raises(KeyError, match="Two different classes are named 'CoOp'.*Rename one"):
        register_trainer(CoOp)

    class Synthetic:
        pass

    with pytest.raises(KeyError, match="Two different classes are named 'Synthetic'"):
        register_dataset(Synthetic)
