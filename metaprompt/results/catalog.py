"""The benchmark's datasets and the output trees the sweep scripts write.

One place on the Python side; ``scripts/_common.sh`` holds the same dataset lists (a test checks
that they agree). Dataset keys are the config/folder names the scripts take (``oxford_pets``);
tables and ``published_results.csv`` use the papers' names (``OxfordPets``, the registry names).
"""
from __future__ import annotations

from dataclasses import dataclass

# The papers' table order.
BASE2NEW_DATASETS: tuple[str, ...] = (
    "imagenet", "caltech101", "oxford_pets", "stanford_cars", "oxford_flowers", "food101",
    "fgvc_aircraft", "sun397", "dtd", "eurosat", "ucf101",
)
FEWSHOT_DATASETS = BASE2NEW_DATASETS
XD_SOURCE = "imagenet"
XD_TARGETS: tuple[str, ...] = BASE2NEW_DATASETS[1:]
DG_TARGETS: tuple[str, ...] = ("imagenetv2", "imagenet_sketch", "imagenet_a", "imagenet_r")
# The toy world's datasets (metaprompt/toyworld, datasets/toy.py): embedded, on the toy-vit backbone.
TOY_DATASETS: tuple[str, ...] = ("toy_shapes", "toy_textures", "toy_sketch")
PROTOCOL_SEEDS: tuple[int, ...] = (1, 2, 3)
PROTOCOL_SHOTS = 16
FEWSHOT_SHOTS: tuple[int, ...] = (1, 2, 4, 8, 16)

PAPER_NAMES: dict[str, str] = {
    "imagenet": "ImageNet", "caltech101": "Caltech101", "oxford_pets": "OxfordPets",
    "stanford_cars": "StanfordCars", "oxford_flowers": "OxfordFlowers", "food101": "Food101",
    "fgvc_aircraft": "FGVCAircraft", "sun397": "SUN397", "dtd": "DescribableTextures",
    "eurosat": "EuroSAT", "ucf101": "UCF101", "imagenetv2": "ImageNetV2",
    "imagenet_sketch": "ImageNetSketch", "imagenet_a": "ImageNetA", "imagenet_r": "ImageNetR",
    "synthetic": "Synthetic",
    "toy_shapes": "ToyShapes", "toy_textures": "ToyTextures", "toy_sketch": "ToySketch",
}
_FOLDERS = {paper.lower(): folder for folder, paper in PAPER_NAMES.items()}


def paper_name(folder: str) -> str:
    """``oxford_pets`` -> ``OxfordPets``; unknown folders keep their name."""
    return PAPER_NAMES.get(folder, folder)


def folder_name(paper: str) -> str | None:
    """``OxfordPets`` -> ``oxford_pets`` (case-insensitive); ``None`` when not a known dataset."""
    return _FOLDERS.get(paper.lower())


@dataclass(frozen=True)
class RunGroup:
    """Runs of one kind: ``<root>/<subtree>/<dataset>/shots_<K>/<TRAINER>/<CFG>/seed<S>/``."""

    subtree: str
    role: str  # what the group's accuracy means in the table


@dataclass(frozen=True)
class Setting:
    name: str
    groups: tuple[RunGroup, ...]
    average_over: tuple[str, ...]  # datasets the protocol's average row needs (all complete)
    description: str


SETTINGS: dict[str, Setting] = {
    "base2new": Setting(
        "base2new",
        (RunGroup("base2new/train_base", "Base"), RunGroup("base2new/test_new", "New")),
        BASE2NEW_DATASETS,
        "base-to-new generalization: train on base classes, test on base (Base) and new (New) classes",
    ),
    "xd": Setting(
        "xd",
        (RunGroup("xd/train", "source"), RunGroup("xd/test", "target")),
        XD_TARGETS,
        "cross-dataset transfer: train on all ImageNet classes, test on all classes of the other datasets",
    ),
    "dg": Setting(
        "dg",
        (RunGroup("xd/train", "source"), RunGroup("dg/test", "target")),
        DG_TARGETS,
        "domain generalization: the ImageNet-trained model tested on ImageNet variants",
    ),
    "fewshot": Setting(
        "fewshot",
        (RunGroup("fewshot", "Accuracy"),),
        FEWSHOT_DATASETS,
        "few-shot learning: train and test on all classes with K shots per class",
    ),
}


def run_path(root: str, subtree: str, dataset: str, shots: int, trainer: str, cfg: str, seed: int) -> str:
    return f"{root.rstrip('/')}/{subtree}/{dataset}/shots_{shots}/{trainer}/{cfg}/seed{seed}"

