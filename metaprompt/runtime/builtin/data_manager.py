"""Transforms, the dataset wrapper and the data manager (Dassl's ``DataManager`` surface)."""
from __future__ import annotations

import torch
from PIL import Image
from tabulate import tabulate
from torch.utils.data import DataLoader, Dataset, RandomSampler, SequentialSampler
from torchvision import transforms as T
from torchvision.transforms import InterpolationMode

from .registry import DATASET_REGISTRY

_INTERPOLATION = {
    "bilinear": InterpolationMode.BILINEAR,
    "bicubic": InterpolationMode.BICUBIC,
    "nearest": InterpolationMode.NEAREST,
}
_KNOWN_TRANSFORMS = {"random_resized_crop", "random_flip", "random_crop", "center_crop", "normalize"}


def build_transform(cfg, is_train: bool = True) -> T.Compose:
    """Train: random resized crop + flip; test: resize short side + center crop; then normalize."""
    choices = list(cfg.INPUT.TRANSFORMS)
    unknown = sorted(set(choices) - _KNOWN_TRANSFORMS)
    if unknown:
        raise ValueError(
            f"INPUT.TRANSFORMS has unsupported entries {unknown}; supported: {sorted(_KNOWN_TRANSFORMS)}"
        )
    if cfg.INPUT.INTERPOLATION not in _INTERPOLATION:
        raise ValueError(f"INPUT.INTERPOLATION must be one of {sorted(_INTERPOLATION)}")
    interp = _INTERPOLATION[cfg.INPUT.INTERPOLATION]
    size = tuple(cfg.INPUT.SIZE)
    ops: list = []
    if is_train and "random_resized_crop" in choices:
        ops.append(T.RandomResizedCrop(size, scale=tuple(cfg.INPUT.RRCROP_SCALE), interpolation=interp))
    else:
        ops.append(T.Resize(max(size), interpolation=interp))
        if is_train and "random_crop" in choices:
            ops.append(T.RandomCrop(size, padding=cfg.INPUT.CROP_PADDING))
        else:
            ops.append(T.CenterCrop(size))
    if is_train and "random_flip" in choices:
        ops.append(T.RandomHorizontalFlip())
    ops.append(T.ToTensor())
    if "normalize" in choices:
        ops.append(T.Normalize(mean=cfg.INPUT.PIXEL_MEAN, std=cfg.INPUT.PIXEL_STD))
    return T.Compose(ops)


def read_image(path: str) -> Image.Image:
    try:
        return Image.open(path).convert("RGB")
    except FileNotFoundError:
        raise FileNotFoundError(
            f"Image {path} listed in the split file does not exist. The dataset folder is incomplete "
            "or was moved; check DATASET.ROOT (run the data checker for details)."
        ) from None


class DatasetWrapper(Dataset):
    """Yields Dassl's batch dicts: ``img``, ``label``, ``domain``, ``impath``, ``index``."""

    def __init__(self, cfg, data_source, transform=None, is_train: bool = False) -> None:
        self.data_source = data_source
        self.transform = transform
        self.return_img0 = cfg.DATALOADER.RETURN_IMG0
        self.to_tensor = T.Compose([T.Resize(max(cfg.INPUT.SIZE)), T.CenterCrop(cfg.INPUT.SIZE), T.ToTensor()])

    def __len__(self) -> int:
        return len(self.data_source)

    def __getitem__(self, idx: int) -> dict:
        item = self.data_source[idx]
        img0 = read_image(item.impath)
        out = {"label": item.label, "domain": item.domain, "impath": item.impath, "index": idx}
        out["img"] = self.transform(img0) if self.transform is not None else T.functional.to_tensor(img0)
        if self.return_img0:
            out["img0"] = self.to_tensor(img0)
        return out


def build_data_loader(cfg, sampler_type: str, data_source, batch_size: int, tfm, is_train: bool) -> DataLoader:
    dataset = DatasetWrapper(cfg, data_source, transform=tfm, is_train=is_train)
    if sampler_type == "RandomSampler":
        sampler = RandomSampler(dataset)
    elif sampler_type == "SequentialSampler":
        sampler = SequentialSampler(dataset)
    else:
        raise ValueError(f"Unsupported sampler {sampler_type!r}: use RandomSampler or SequentialSampler")
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        num_workers=cfg.DATALOADER.NUM_WORKERS,
        drop_last=is_train and len(data_source) >= batch_size,
        pin_memory=torch.cuda.is_available() and cfg.USE_CUDA,
    )


class DataManager:
    def __init__(self, cfg, custom_tfm_train=None, custom_tfm_test=None, dataset_wrapper=None) -> None:
        dataset = DATASET_REGISTRY.get(cfg.DATASET.NAME)(cfg)
        tfm_train = custom_tfm_train or build_transform(cfg, is_train=True)
        tfm_test = custom_tfm_test or build_transform(cfg, is_train=False)
        self.train_loader_x = build_data_loader(
            cfg, cfg.DATALOADER.TRAIN_X.SAMPLER, dataset.train_x, cfg.DATALOADER.TRAIN_X.BATCH_SIZE, tfm_train, True
        )
        self.train_loader_u = None
        self.val_loader = None
        if dataset.val:
            self.val_loader = build_data_loader(
                cfg, cfg.DATALOADER.TEST.SAMPLER, dataset.val, cfg.DATALOADER.TEST.BATCH_SIZE, tfm_test, False
            )
        self.test_loader = build_data_loader(
            cfg, cfg.DATALOADER.TEST.SAMPLER, dataset.test, cfg.DATALOADER.TEST.BATCH_SIZE, tfm_test, False
        )
        self._num_classes = dataset.num_classes
        self._num_source_domains = len(cfg.DATASET.SOURCE_DOMAINS)
        self._lab2cname = dataset.lab2cname
        self.dataset = dataset
        if cfg.VERBOSE:
            self.show_dataset_summary(cfg)

    num_classes = property(lambda self: self._num_classes)
    num_source_domains = property(lambda self: self._num_source_domains)
    lab2cname = property(lambda self: self._lab2cname)

    def show_dataset_summary(self, cfg) -> None:
        rows = [["Dataset", cfg.DATASET.NAME], ["# classes", f"{self.num_classes:,}"],
                ["# train_x", f"{len(self.dataset.train_x):,}"]]
        if self.dataset.val:
            rows.append(["# val", f"{len(self.dataset.val):,}"])
        rows.append(["# test", f"{len(self.dataset.test):,}"])
        print(tabulate(rows))
