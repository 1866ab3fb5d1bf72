"""Registering trainers and datasets: the top-level folders are the installed modules, two classes clash."""
import subprocess
import sys

import pytest

from runs import REPO

# From the repository root, `trainers` and `datasets` are importable both as top-level packages (the
# CoOp family's habit) and as metaprompt.trainers / metaprompt.datasets (how the package installs them):
# one module, one class, under both names (metaprompt.layout).
BOTH_PATHS = """
import trainers.coop, datasets.oxford_pets
import metaprompt
from metaprompt.config import build_cfg
from metaprompt.runtime import DATASET_REGISTRY, TRAINER_REGISTRY
import metaprompt.trainers.coop, metaprompt.datasets.oxford_pets
assert trainers.coop.CoOp is metaprompt.trainers.coop.CoOp  # one identity
assert datasets.oxford_pets.OxfordPets is metaprompt.datasets.oxford_pets.OxfordPets
import trainers.base, datasets.check, datasets.legacy_cache
assert trainers.base is metaprompt.trainers.base and datasets.check is metaprompt.datasets.check
assert datasets.legacy_cache.DatasetFileError is metaprompt.datasets.base.DatasetFileError
assert TRAINER_REGISTRY.get("CoOp").__name__ == "CoOp"
assert DATASET_REGISTRY.get("OxfordPets").__name__ == "OxfordPets"
cfg = build_cfg(opts=["TRAINER.COOP.N_CTX", "8"])
assert cfg.TRAINER.COOP.N_CTX == 8
print("registered once")
"""


def test_top_level_folders_and_installed_packages_are_one_identity():
    proc = subprocess.run([sys.executable, "-c", BOTH_PATHS], cwd=REPO, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "registered once" in proc.stdout


def test_two_different_classes_with_one_name_are_an_error():
    import metaprompt
    from metaprompt.runtime import register_dataset, register_trainer
    from metaprompt.trainers.base import PromptTrainer

    metaprompt.register_all()

    class CoOp(PromptTrainer):  # noqa: F811  (deliberately the name of a registered trainer)
        pass

    with pytest.raises(KeyError, match="Two different classes are named 'CoOp'.*Rename one"):
        register_trainer(CoOp)

    class Synthetic:
        pass

    with pytest.raises(KeyError, match="Two different classes are named 'Synthetic'"):
        register_dataset(Synthetic)
