"""Reading a local image-text corpus: a CSV/TSV of ``image_path, caption`` or WebDataset tar shards.

Every pair becomes a :class:`Record` whose image is a byte range of a file (a whole image file,
or a member of a tar shard), so images are read by random access in either layout and a tar is
never unpacked. The corpus fingerprint identifies its content for the feature cache and the
artefact:

* ``content`` (default): captions and every image's bytes; moving the corpus keeps it valid;
* ``stat``: captions, image sizes and file modification times (no image is read; for corpora
  too large to hash on every run).
"""
from __future__ import annotations

import csv
import hashlib
import io
import os
import tarfile
from dataclasses import dataclass
from typing import Sequence

import torch
from PIL import Image
from torchvision import transforms as T
from torchvision.transforms import InterpolationMode

IMAGE_COLUMNS = ("image_path", "filepath", "image", "path", "file")
CAPTION_COLUMNS = ("caption", "text", "title")
IMAGE_EXTENSIONS = ("jpg", "jpeg", "png", "webp", "bmp")
FINGERPRINT_MODES = ("content", "stat")


class CorpusError(ValueError):
    pass


@dataclass(frozen=True)
class Record:
    key: str
    caption: str
    source: str  # the file holding the image bytes
    offset: int = 0
    size: int = -1  # -1: the whole file

    def read_bytes(self) -> bytes:
        with open(self.source, "rb") as f:
            f.seek(self.offset)
            return f.read(self.size)


@dataclass
class Corpus:
    path: str
    records: list[Record]

    def __len__(self) -> int:
        return len(self.records)

    @property
    def captions(self) -> list[str]:
        return [r.caption for r in self.records]

    def fingerprint(self, mode: str = "content") -> str:
        if mode not in FINGERPRINT_MODES:
            raise CorpusError(f"Unknown fingerprint mode {mode!r}; choose one of {FINGERPRINT_MODES}")
        h = hashlib.sha256(f"gram-corpus-v1:{mode}:{len(self.records)}\n".encode())
        stat_cache: dict[str, str] = {}
        for r in self.records:
            h.update(f"{r.key}\t{r.caption}\n".encode())
            if mode == "content":
                h.update(hashlib.sha256(r.read_bytes()).digest())
            else:
                if r.source not in stat_cache:
                    st = os.stat(r.source)
                    stat_cache[r.source] = f"{st.st_size}:{st.st_mtime_ns}"
                h.update(f"{os.path.basename(r.source)}:{r.offset}:{r.size}:{stat_cache[r.source]}\n".encode())
        return h.hexdigest()


def clean_caption(text: str) -> str:
    return " ".join(text.split())


def _pick_column(header: Sequence[str], choices: Sequence[str], what: str, path: str) -> int:
    lowered = [h.strip().lower() for h in header]
    for name in choices:
        if name in lowered:
            return lowered.index(name)
    raise CorpusError(f"{path}: no {what} column in the header {list(header)}; name it one of {list(choices)}.")


def read_table(path: str) -> list[Record]:
    """A CSV (or ``.tsv``) with a header naming an image column and a caption column."""
    delimiter = "\t" if path.lower().endswith(".tsv") else ","
    base = os.path.dirname(os.path.abspath(path))
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f, delimiter=delimiter))
    except (UnicodeDecodeError, csv.Error) as e:
        raise CorpusError(f"{path} is not a text CSV/TSV ({type(e).__name__}: {e}). The corpus must be a UTF-8 "
                          "table with a header (image_path, caption) and one row per pair, or a folder of WebDataset "
                          ".tar shards.") from None
    if any("\0" in field for row in rows for field in row):
        raise CorpusError(f"{path} holds NUL bytes: it is a binary file, not a CSV/TSV of image_path,caption.")
    if not rows:
        raise CorpusError(f"{path} is empty; it needs a header (image_path, caption) and one row per pair.")
    img_col = _pick_column(rows[0], IMAGE_COLUMNS, "image", path)
    cap_col = _pick_column(rows[0], CAPTION_COLUMNS, "caption", path)
    records, missing = [], []
    for i, row in enumerate(rows[1:], start=2):
        if len(row) <= max(img_col, cap_col):
            raise CorpusError(f"{path}, line {i}: expected at least {max(img_col, cap_col) + 1} fields, got {row}")
        image = os.path.join(base, os.path.expanduser(row[img_col].strip()))
        if not os.path.isfile(image):
            missing.append(image)
            continue
        records.append(Record(key=f"{i - 2:09d}", caption=clean_caption(row[cap_col]), source=image))
    if missing:
        raise CorpusError(f"{path}: {len(missing)} image files do not exist (first: {missing[0]}). Paths are "
                          "read relative to the CSV's folder; fix them or drop those rows.")
    return records


def read_shard(path: str) -> tuple[list[Record], int]:
    """A WebDataset shard as img2dataset writes it: ``key.jpg`` + ``key.txt`` (other members ignored).

    Returns the pairs (in the shard's order) and the number of keys that lack an image or a caption.
    """
    images: dict[str, tarfile.TarInfo] = {}
    captions: dict[str, str] = {}
    order: list[str] = []
    try:
        with tarfile.open(path, "r:") as tar:
            for m in tar:
                if not m.isfile() or "." not in os.path.basename(m.name):
                    continue
                key, ext = m.name.rsplit(".", 1)
                ext = ext.lower()
                if key not in images and key not in captions:
                    order.append(key)
                if ext in IMAGE_EXTENSIONS:
                    images[key] = m
                elif ext == "txt":
                    captions[key] = clean_caption(tar.extractfile(m).read().decode("utf-8", errors="replace"))
    except tarfile.TarError as e:
        raise CorpusError(f"{path} is not a readable (uncompressed) tar shard: {e}") from None
    records = [Record(key=f"{os.path.basename(path)}/{k}", caption=captions[k], source=path,
                      offset=images[k].offset_data, size=images[k].size)
               for k in order if k in images and k in captions]
    return records, len(order) - len(records)


def read_corpus(path: str) -> Corpus:
    """A corpus from a CSV/TSV file, one ``.tar`` shard, or a folder of shards (or holding one CSV/TSV)."""
    path = os.path.abspath(os.path.expanduser(path))
    if not os.path.exists(path):
        raise CorpusError(f"Corpus {path} does not exist. Give a CSV/TSV of image_path,caption or a folder of "
                          "WebDataset .tar shards (python -m metaprompt.meta.gram.synthetic_corpus DIR writes one).")
    if os.path.isdir(path):
        shards = sorted(os.path.join(path, f) for f in os.listdir(path) if f.endswith(".tar"))
        tables = sorted(os.path.join(path, f) for f in os.listdir(path) if f.lower().endswith((".csv", ".tsv")))
        if shards:
            files = shards
        elif len(tables) == 1:
            files = tables
        else:
            raise CorpusError(f"{path} holds no .tar shards and {len(tables)} CSV/TSV files; point at one file or "
                              "at a folder of shards.")
    else:
        files = [path]
    records: list[Record] = []
    incomplete = 0
    for f in files:
        if f.endswith(".tar"):
            recs, bad = read_shard(f)
            records += recs
            incomplete += bad
        elif f.lower().endswith((".csv", ".tsv")):
            records += read_table(f)
        else:
            raise CorpusError(f"{f}: unknown corpus format; use .csv, .tsv or .tar shards.")
    if incomplete:
        print(f"Corpus: skipped {incomplete} shard entries without both an image and a caption")
    if not records:
        raise CorpusError(f"Corpus {path} holds no image-caption pairs.")
    return Corpus(path, records)


def image_transform(size: int, mean: Sequence[float], std: Sequence[float], interpolation: str = "bicubic") -> T.Compose:
    """The downstream test transform: resize the short side, center crop, normalize."""
    modes = {"bicubic": InterpolationMode.BICUBIC, "bilinear": InterpolationMode.BILINEAR,
             "nearest": InterpolationMode.NEAREST}
    return T.Compose([T.Resize(size, interpolation=modes[interpolation]), T.CenterCrop(size), T.ToTensor(),
                      T.Normalize(mean=list(mean), std=list(std))])


def load_image(record: Record) -> Image.Image:
    try:
        return Image.open(io.BytesIO(record.read_bytes())).convert("RGB")
    except (OSError, ValueError) as e:
        raise CorpusError(f"Cannot decode the image of {record.key} ({record.source}): {e}") from None


class ImageDataset(torch.utils.data.Dataset):
    """Preprocessed images of some records (for the one-off feature pass and for episodes)."""

    def __init__(self, records: Sequence[Record], transform: T.Compose) -> None:
        self.records = records
        self.transform = transform

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.transform(load_image(self.records[i]))
