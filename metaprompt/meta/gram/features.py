"""Frozen-CLIP embeddings of every corpus pair, computed once and cached on disk.

The cache file holds the image and caption embeddings (fp32, not normalised) and the identity
they were computed for: the corpus fingerprint, the backbone and the image preprocessing. A
re-run with the same identity reads the file and never calls the encoder; a changed corpus (or
backbone, or preprocessing) re-encodes and replaces it.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable

import torch
from torch.utils.data import DataLoader
from torchvision import transforms as T
from tqdm import tqdm

from ...clip.openai import CLIP, clip
from ...clip.encoders import PromptedImageEncoder
from .corpus import Corpus, ImageDataset

CACHE_VERSION = 1


@dataclass
class CorpusFeatures:
    image: torch.Tensor  # (N, E) fp32, as the frozen image encoder returns them
    text: torch.Tensor  # (N, E) fp32 caption embeddings


@torch.no_grad()
def encode_corpus(corpus: Corpus, clip_model: CLIP, transform: T.Compose, batch_size: int = 256,
                  device: torch.device | str = "cpu", num_workers: int = 0) -> CorpusFeatures:
    """One pass of the frozen encoders over the corpus (the image side is the prompt-free
    :class:`PromptedImageEncoder`, the same function the meta-training forward uses)."""
    image_encoder = PromptedImageEncoder(clip_model)
    loader = DataLoader(ImageDataset(corpus.records, transform), batch_size=batch_size, num_workers=num_workers)
    images = [image_encoder(batch.to(device)).float().cpu() for batch in tqdm(loader, desc="Encoding images")]
    captions = corpus.captions
    texts = []
    for i in tqdm(range(0, len(captions), batch_size), desc="Encoding captions"):
        tokens = clip.tokenize(captions[i: i + batch_size], truncate=True).to(device)
        texts.append(clip_model.encode_text(tokens).float().cpu())
    return CorpusFeatures(torch.cat(images), torch.cat(texts))


def load_or_encode(cache_path: str, identity: dict, encode: Callable[[], CorpusFeatures]) -> CorpusFeatures:
    """The cached features if ``cache_path`` was written for ``identity``, else ``encode()`` (then cached)."""
    identity = {"version": CACHE_VERSION, **identity}
    if os.path.isfile(cache_path):
        try:
            cached = torch.load(cache_path, map_location="cpu", weights_only=True)
        except Exception as e:  # an unreadable cache is recomputed, never trusted
            print(f"Feature cache {cache_path} is unreadable ({type(e).__name__}); re-encoding")
        else:
            if cached.get("identity") == identity:
                print(f"Using cached corpus features from {cache_path}")
                return CorpusFeatures(cached["image"], cached["text"])
            changed = sorted(k for k in identity if cached.get("identity", {}).get(k) != identity[k])
            print(f"Feature cache {cache_path} was computed for another {', '.join(changed)}; re-encoding")
    features = encode()
    os.makedirs(os.path.dirname(os.path.abspath(cache_path)), exist_ok=True)
    tmp = cache_path + ".tmp"
    torch.save({"identity": identity, "image": features.image, "text": features.text}, tmp)
    os.replace(tmp, cache_path)
    print(f"Cached corpus features in {cache_path}")
    return features


def corpus_features(corpus: Corpus, fingerprint: str, clip_model: CLIP, transform: T.Compose, identity: dict,
                    cache_dir: str, batch_size: int = 256, device: torch.device | str = "cpu",
                    num_workers: int = 0) -> CorpusFeatures:
    """Features for ``corpus``: from ``cache_dir`` when valid, else encoded now and cached there."""
    name = "features-" + "".join(c if c.isalnum() or c in "-_" else "_" for c in str(identity["backbone"])) + ".pt"
    return load_or_encode(os.path.join(cache_dir, name), {"fingerprint": fingerprint, "n_pairs": len(corpus), **identity},
                          lambda: encode_corpus(corpus, clip_model, transform, batch_size, device, num_workers))
