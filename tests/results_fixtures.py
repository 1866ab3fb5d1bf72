"""Fabricated inputs for the results and sweep tests: evaluator logs and a tiny dataset."""
from __future__ import annotations

import json
import os

from PIL import Image

PETS = ["abyssinian", "beagle", "boxer", "pug"]  # a 4-breed stand-in in the OxfordPets layout


def write_log(run_dir: str, accuracy: float | None, backbone: str = "ViT-B/16", total: int = 1000,
              name: str = "log.txt") -> str:
    """A log in the evaluator's exact format; ``accuracy=None`` writes a run that crashed before its test."""
    os.makedirs(run_dir, exist_ok=True)
    lines = ["Setting fixed seed: 1", "************", "** Config **", "************",
             "MODEL:", "  BACKBONE:", f"    NAME: {backbone}", "  HEAD:", "    NAME: ",
             "epoch [1/2] batch [20/20] time 0.05 (0.06) loss 1.2345 (1.3000) lr 1.0000e-02 eta 0:00:01"]
    if accuracy is None:
        lines += ["Traceback (most recent call last):", "RuntimeError: CUDA out of memory"]
    else:
        correct = round(total * accuracy / 100)
        lines += ["Finish training", "Deploy the last-epoch model", "Evaluate on the *test* set", "=> result",
                  f"* total: {total:,}", f"* correct: {correct:,}", f"* accuracy: {accuracy:.1f}%",
                  f"* error: {100 - accuracy:.1f}%", f"* macro_f1: {accuracy - 1:.1f}%", "Elapsed: 0:01:02"]
    path = os.path.join(run_dir, name)
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def fabricate_pets(root: str, per_class: tuple[int, int, int] = (6, 2, 3)) -> str:
    """``root/oxford_pets/{images,split_zhou_OxfordPets.json}`` with 4 classes of solid-colour images."""
    folder = os.path.join(root, "oxford_pets")
    images = os.path.join(folder, "images")
    os.makedirs(images, exist_ok=True)
    split: dict[str, list] = {"train": [], "val": [], "test": []}
    for label, breed in enumerate(PETS):
        i = 0
        for part, n in zip(("train", "val", "test"), per_class):
            for _ in range(n):
                name = f"{breed}_{i}.jpg"
                shade = 40 + 50 * label + 3 * i
                Image.new("RGB", (32, 32), (shade, 255 - shade, (7 * i) % 255)).save(os.path.join(images, name))
                split[part].append([name, label, breed])
                i += 1
    with open(os.path.join(folder, "split_zhou_OxfordPets.json"), "w") as f:
        json.dump(split, f)
    return folder
