"""Fabricated data roots in the exact CoOp-family folder layouts (few classes, tiny images).

``LAYOUTS[registry name](root)`` writes one dataset under ``root`` and returns a ``Truth``: the
facts the layout was written with, typed in by hand from the protocol (class names in label
order, and what the reader must start from). Tests compute the expected splits, shots and
base/new selections from these facts with their own code, never with the readers'.

Kinds of truth:
- ``per_class``: the reader cuts each class 50/20/30 when the split file is missing;
  ``(label, classname, [image paths in the order they are shuffled from])`` in label order.
- ``trainval`` + ``test``: the reader cuts ``trainval`` 80/20 per class; ``test`` is fixed.
- ``fixed``: lists the reader uses as they are (``{"train"|"val"|"test": [(path, label, name)]}``).
"""
from __future__ import annotations

import io
import json
import os
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

_buf = io.BytesIO()
Image.new("RGB", (4, 4), (120, 30, 200)).save(_buf, format="JPEG")
JPEG = _buf.getvalue()

Triple = tuple  # (absolute image path, label, classname)


@dataclass
class Truth:
    name: str
    dataset_dir: str
    split_name: str
    classnames: list[str]
    per_class: list[tuple[int, str, list[str]]] | None = None
    trainval: list[Triple] | None = None
    test: list[Triple] | None = None
    fixed: dict[str, list[Triple]] = field(default_factory=dict)
    removable: str = ""  # a required file or folder (relative to dataset_dir) for missing-file tests


def image(path: str) -> str:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(JPEG)
    return path


def savemat(path: str, content: dict) -> None:
    from scipy.io import savemat as _savemat

    os.makedirs(os.path.dirname(path), exist_ok=True)
    _savemat(path, content)


def write(path: str, text: str) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def _folder_classes(image_dir: str, folders: dict[str, int], stem=lambda folder, i: f"{folder}_{i}.jpg"):
    """Class folders with n images each, written in reverse name order (listing order is not sorted order)."""
    paths = {}
    for folder, n in folders.items():
        names = sorted(stem(folder, i) for i in range(1, n + 1))
        for name in reversed(names):
            image(os.path.join(image_dir, folder, name))
        paths[folder] = [os.path.join(image_dir, folder, name) for name in names]
    return paths


def make_caltech101(root: str) -> Truth:
    image_dir = os.path.join(root, "caltech-101", "101_ObjectCategories")
    counts = {"airplanes": 6, "accordion": 9, "Motorbikes": 7, "Leopards": 4, "Faces_easy": 4, "Faces": 5,
              "BACKGROUND_Google": 4}
    paths = _folder_classes(image_dir, counts, lambda folder, i: f"image_{i:04d}.jpg")
    write(os.path.join(image_dir, "Faces", ".DS_Store"), "hidden files are not images")
    # sorted folders without BACKGROUND_Google and Faces_easy; four renamed
    order = [("Faces", "face"), ("Leopards", "leopard"), ("Motorbikes", "motorbike"), ("accordion", "accordion"),
             ("airplanes", "airplane")]
    return Truth("Caltech101", "caltech-101", "split_zhou_Caltech101.json", [n for _, n in order],
                 per_class=[(i, n, paths[f]) for i, (f, n) in enumerate(order)], removable="101_ObjectCategories")


def _per_folder(name, dataset_dir, image_subdir, split_name, folder_names: dict[str, str], counts, root):
    image_dir = os.path.join(root, dataset_dir, image_subdir)
    paths = _folder_classes(image_dir, dict(zip(folder_names, counts)))
    order = sorted(folder_names)
    return Truth(name, dataset_dir, split_name, [folder_names[f] for f in order],
                 per_class=[(i, folder_names[f], paths[f]) for i, f in enumerate(order)], removable=image_subdir)


def make_food101(root: str) -> Truth:
    names = {f: f for f in ("baklava", "apple_pie", "beef_carpaccio", "baby_back_ribs")}
    return _per_folder("Food101", "food-101", "images", "split_zhou_Food101.json", names, [6, 8, 5, 10], root)


def make_dtd(root: str) -> Truth:
    names = {f: f for f in ("bubbly", "banded", "braided", "blotchy", "cracked")}
    return _per_folder("DescribableTextures", "dtd", "images", "split_zhou_DescribableTextures.json", names,
                       [5, 9, 4, 7, 6], root)


def make_eurosat(root: str) -> Truth:
    names = {"SeaLake": "Sea or Lake", "AnnualCrop": "Annual Crop Land", "Forest": "Forest",
             "HerbaceousVegetation": "Herbaceous Vegetation Land", "Highway": "Highway or Road"}
    return _per_folder("EuroSAT", "eurosat", "2750", "split_zhou_EuroSAT.json", names, [12, 9, 5, 7, 4], root)


def make_oxford_flowers(root: str) -> Truth:
    d = os.path.join(root, "oxford_flowers")
    labels = [3, 1, 3, 2, 1, 5, 3, 4, 2, 1, 3, 5, 4, 2, 1, 5, 4, 3, 2, 5, 4, 1, 3, 5, 4, 2]  # 1-based ids
    names = {"1": "pink primrose", "2": "hard-leaved pocket orchid", "3": "canterbury bells", "4": "sweet pea",
             "5": "english marigold"}
    savemat(os.path.join(d, "imagelabels.mat"), {"labels": np.array([labels], dtype=np.uint8)})
    write(os.path.join(d, "cat_to_name.json"), json.dumps(names))
    paths = [image(os.path.join(d, "jpg", f"image_{i:05d}.jpg")) for i in range(1, len(labels) + 1)]
    first_seen = [3, 1, 2, 5, 4]
    per_class = [(y - 1, names[str(y)], [p for p, lab in zip(paths, labels) if lab == y]) for y in first_seen]
    return Truth("OxfordFlowers", "oxford_flowers", "split_zhou_OxfordFlowers.json",
                 [names[str(y)] for y in range(1, 6)], per_class=per_class, removable="jpg")


def make_oxford_pets(root: str) -> Truth:
    d = os.path.join(root, "oxford_pets")
    breeds = [("Abyssinian", 1, 7), ("american_bulldog", 2, 6), ("american_pit_bull_terrier", 2, 5), ("Bengal", 1, 8),
              ("Birman", 1, 5)]
    trainval, test, lines_tv, lines_te = [], [], [], []
    for i in range(8):  # interleaved classes: grouping follows first appearance, not file blocks
        for label, (breed, species, n) in enumerate(breeds):
            if i < n:
                stem = f"{breed}_{i + 1}"
                trainval.append((image(os.path.join(d, "images", stem + ".jpg")), label, breed.lower()))
                lines_tv.append(f"{stem} {label + 1} {species} {label + 1}")
    for label, (breed, species, _) in enumerate(breeds):
        for i in (100, 101):
            stem = f"{breed}_{i}"
            test.append((image(os.path.join(d, "images", stem + ".jpg")), label, breed.lower()))
            lines_te.append(f"{stem} {label + 1} {species} {label + 1}")
    write(os.path.join(d, "annotations", "trainval.txt"), "\n".join(lines_tv) + "\n")
    write(os.path.join(d, "annotations", "test.txt"), "\n".join(lines_te) + "\n")
    return Truth("OxfordPets", "oxford_pets", "split_zhou_OxfordPets.json", [b.lower() for b, _, _ in breeds],
                 trainval=trainval, test=test, removable="images")


def make_stanford_cars(root: str) -> Truth:
    d = os.path.join(root, "stanford_cars")
    models = ["AM General Hummer SUV 2000", "Acura RL Sedan 2012", "Audi R8 Coupe 2012", "BMW M3 Coupe 2012",
              "Tesla Model S Sedan 2012"]
    readable = ["2000 AM General Hummer SUV", "2012 Acura RL Sedan", "2012 Audi R8 Coupe", "2012 BMW M3 Coupe",
                "2012 Tesla Model S Sedan"]
    train_labels = [2, 0, 4, 1, 3, 2, 0, 4, 1, 3, 2, 0, 1, 3, 4, 2, 0, 1, 4, 3, 2, 1]  # 0-based
    test_labels = [0, 1, 2, 3, 4, 4, 3, 2, 1, 0]
    meta = np.empty((1, len(models)), dtype=object)
    meta[0, :] = models
    savemat(os.path.join(d, "devkit", "cars_meta.mat"), {"class_names": meta})

    def annos(folder: str, labels: list[int], mat: str) -> list[Triple]:
        rec = np.empty((1, len(labels)), dtype=[("fname", "O"), ("class", "O")])
        out = []
        for i, y in enumerate(labels):
            fname = f"{i + 1:05d}.jpg"
            rec[0, i] = (fname, np.array([[y + 1]], dtype=np.uint8))
            out.append((image(os.path.join(d, folder, fname)), y, readable[y]))
        savemat(os.path.join(d, mat), {"annotations": rec})
        return out

    trainval = annos("cars_train", train_labels, "devkit/cars_train_annos.mat")
    test = annos("cars_test", test_labels, "cars_test_annos_withlabels.mat")
    return Truth("StanfordCars", "stanford_cars", "split_zhou_StanfordCars.json", readable, trainval=trainval,
                 test=test, removable="cars_test")


def make_sun397(root: str) -> Truth:
    d = os.path.join(root, "sun397")
    categories = [("a/abbey", "abbey", 6), ("a/apartment_building/outdoor", "outdoor apartment_building", 5),
                  ("b/bakery/shop", "shop bakery", 7), ("b/balcony/interior", "interior balcony", 5),
                  ("c/campus", "campus", 8)]
    write(os.path.join(d, "ClassName.txt"), "".join(f"/{c}\n" for c, _, _ in categories))
    trainval, test, tr_lines, te_lines = [], [], [], []
    for label, (cat, name, n) in enumerate(categories):
        for i in range(n + 2):
            rel = f"{cat}/sun_{label}{i:03d}.jpg"
            item = (image(os.path.join(d, "SUN397", rel)), label, name)
            (trainval if i < n else test).append(item)
            (tr_lines if i < n else te_lines).append(f"/{rel}\n")
    write(os.path.join(d, "Training_01.txt"), "".join(tr_lines))
    write(os.path.join(d, "Testing_01.txt"), "".join(te_lines))
    return Truth("SUN397", "sun397", "split_zhou_SUN397.json", [n for _, n, _ in categories], trainval=trainval,
                 test=test, removable="SUN397")


def make_ucf101(root: str) -> Truth:
    d = os.path.join(root, "ucf101")
    actions = [("ApplyEyeMakeup", "Apply_Eye_Makeup", 5), ("Basketball", "Basketball", 6),
               ("JumpingJack", "Jumping_Jack", 5), ("PlayingDaf", "Playing_Daf", 7), ("YoYo", "Yo_Yo", 5)]
    write(os.path.join(d, "ucfTrainTestlist", "classInd.txt"),
          "".join(f"{i + 1} {a}\n" for i, (a, _, _) in enumerate(actions)))
    trainval, test, tr_lines, te_lines = [], [], [], []
    for label, (action, name, n) in enumerate(actions):
        for g in range(1, n + 3):
            video = f"v_{action}_g{g:02d}_c01"
            item = (image(os.path.join(d, "UCF-101-midframes", name, video + ".jpg")), label, name)
            if g <= 2:  # groups 1-2 are the test list, as in the official split 1
                test.append(item)
                te_lines.append(f"{action}/{video}.avi\n")
            else:
                trainval.append(item)
                tr_lines.append(f"{action}/{video}.avi {label + 1}\n")
    write(os.path.join(d, "ucfTrainTestlist", "trainlist01.txt"), "".join(tr_lines))
    write(os.path.join(d, "ucfTrainTestlist", "testlist01.txt"), "".join(te_lines))
    return Truth("UCF101", "ucf101", "split_zhou_UCF101.json", [n for _, n, _ in actions], trainval=trainval,
                 test=test, removable="UCF-101-midframes")


def make_fgvc_aircraft(root: str) -> Truth:
    d = os.path.join(root, "fgvc_aircraft")
    variants = ["707-320", "A300B4", "Cessna 172", "F/A-18", "Tu-134"]
    write(os.path.join(d, "variants.txt"), "".join(v + "\n" for v in variants))
    fixed: dict[str, list[Triple]] = {}
    image_id = 1000000
    for split, per_class in (("train", [4, 5, 3, 6, 4]), ("val", [2, 3, 2, 2, 3]), ("test", [2, 2, 3, 2, 2])):
        items, lines = [], []
        for rnd in range(max(per_class)):  # interleaved, as in the official lists
            for label, n in enumerate(per_class):
                if rnd < n:
                    image_id += 7
                    items.append((image(os.path.join(d, "images", f"{image_id}.jpg")), label, variants[label]))
                    lines.append(f"{image_id} {variants[label]}\n")
        write(os.path.join(d, f"images_variant_{split}.txt"), "".join(lines))
        fixed[split] = items
    return Truth("FGVCAircraft", "fgvc_aircraft", "", variants, fixed=fixed, removable="images_variant_val.txt")


IMAGENET_NAMES = [("n01496331", "electric ray"), ("n01440764", "tench"), ("n01484850", "great white shark"),
                  ("n01443537", "goldfish"), ("n01494475", "hammerhead shark"), ("n01491361", "tiger shark")]


def _classnames_txt(path: str) -> None:
    write(path, "".join(f"{w} {n}\n" for w, n in IMAGENET_NAMES))  # file order is not wnid order


def _wnid_folders(image_dir: str, wnids: list[str], n: int) -> list[Triple]:
    names = dict(IMAGENET_NAMES)
    items = []
    for label, wnid in enumerate(sorted(wnids)):
        for i in range(1, n + 1 + label % 2):
            items.append((image(os.path.join(image_dir, wnid, f"{wnid}_{i}.JPEG")), label, names[wnid]))
    return sorted(items, key=lambda t: (t[1], t[0]))


def make_imagenet(root: str) -> Truth:
    d = os.path.join(root, "imagenet")
    _classnames_txt(os.path.join(d, "classnames.txt"))
    wnids = ["n01491361", "n01440764", "n01496331", "n01443537", "n01484850"]
    train = _wnid_folders(os.path.join(d, "images", "train"), wnids, 5)
    test = _wnid_folders(os.path.join(d, "images", "val"), wnids, 2)
    names = dict(IMAGENET_NAMES)
    return Truth("ImageNet", "imagenet", "", [names[w] for w in sorted(wnids)], fixed={"train": train, "test": test},
                 removable="classnames.txt")


def make_imagenetv2(root: str) -> Truth:
    d = os.path.join(root, "imagenetv2")
    _classnames_txt(os.path.join(d, "classnames.txt"))
    image_dir = os.path.join(d, "imagenetv2-matched-frequency-format-val")
    test = []
    for label, (_, name) in enumerate(IMAGENET_NAMES):  # folder i = line i of classnames.txt
        for h in ("b7f3", "0a1c"):
            test.append((image(os.path.join(image_dir, str(label), f"{h}{label}.jpeg")), label, name))
    test.sort(key=lambda t: (t[1], t[0]))
    return Truth("ImageNetV2", "imagenetv2", "", [n for _, n in IMAGENET_NAMES], fixed={"test": test},
                 removable="classnames.txt")


def make_imagenet_sketch(root: str) -> Truth:
    d = os.path.join(root, "imagenet-sketch")
    _classnames_txt(os.path.join(d, "classnames.txt"))
    test = _wnid_folders(os.path.join(d, "images"), [w for w, _ in IMAGENET_NAMES], 2)
    names = dict(IMAGENET_NAMES)
    return Truth("ImageNetSketch", "imagenet-sketch", "", [names[w] for w in sorted(names)], fixed={"test": test},
                 removable="images")


def _subset(root: str, name: str, dataset_dir: str, image_subdir: str) -> Truth:
    d = os.path.join(root, dataset_dir)
    _classnames_txt(os.path.join(d, "classnames.txt"))
    wnids = ["n01494475", "n01443537", "n01491361"]  # a subset, not the first lines: renumbered from 0
    test = _wnid_folders(os.path.join(d, image_subdir), wnids, 3)
    write(os.path.join(d, image_subdir, "README.txt"), "not a class")
    names = dict(IMAGENET_NAMES)
    return Truth(name, dataset_dir, "", [names[w] for w in sorted(wnids)], fixed={"test": test},
                 removable="classnames.txt")


def make_imagenet_a(root: str) -> Truth:
    return _subset(root, "ImageNetA", "imagenet-adversarial", "imagenet-a")


def make_imagenet_r(root: str) -> Truth:
    return _subset(root, "ImageNetR", "imagenet-rendition", "imagenet-r")


LAYOUTS = {
    "ImageNet": make_imagenet, "Caltech101": make_caltech101, "OxfordPets": make_oxford_pets,
    "StanfordCars": make_stanford_cars, "OxfordFlowers": make_oxford_flowers, "Food101": make_food101,
    "FGVCAircraft": make_fgvc_aircraft, "SUN397": make_sun397, "DescribableTextures": make_dtd,
    "EuroSAT": make_eurosat, "UCF101": make_ucf101, "ImageNetV2": make_imagenetv2,
    "ImageNetSketch": make_imagenet_sketch, "ImageNetA": make_imagenet_a, "ImageNetR": make_imagenet_r,
}
TEST_ONLY = ("ImageNetV2", "ImageNetSketch", "ImageNetA", "ImageNetR")
