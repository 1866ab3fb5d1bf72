"""Two-level cross-modal clustering of the corpus into pseudo-classes and their visual domains.

Level 1 clusters the caption embeddings (or the joint image+caption embeddings) into K1
pseudo-classes, each named by its most central caption. Level 2 clusters the *image*
embeddings inside each pseudo-class into up to K2 domains. Embeddings are L2-normalised, so
k-means on them is spherical (cosine) clustering. Everything is seeded: the same features and
seed give the same hierarchy on the same machine.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

LEVEL1_FEATURES = ("text", "joint")


def _sq_dists(x: torch.Tensor, c: torch.Tensor, chunk: int = 65536) -> torch.Tensor:
    """``||x_i - c_j||^2`` in row chunks (bounded memory for large corpora)."""
    c_sq = (c * c).sum(1)
    out = [((xb * xb).sum(1, keepdim=True) - 2 * xb @ c.t() + c_sq).clamp_min_(0) for xb in x.split(chunk)]
    return torch.cat(out)


def kmeans(x: torch.Tensor, k: int, seed: int = 0, iters: int = 50) -> tuple[torch.Tensor, torch.Tensor]:
    """Lloyd's k-means with k-means++ seeding; returns ``(centroids (k, D), labels (N,))``.

    An empty cluster takes the point farthest from its centroid, so all ``k`` stay in use.
    """
    n = x.shape[0]
    if not 1 <= k <= n:
        raise ValueError(f"k-means needs 1 <= k <= number of points; got k={k} for {n} points")
    x = x.float()
    gen = torch.Generator().manual_seed(seed)
    centroids = [x[torch.randint(n, (1,), generator=gen).item()]]
    closest = _sq_dists(x, centroids[0][None])[:, 0]
    for _ in range(1, k):
        weights = closest if closest.sum() > 0 else torch.ones(n)
        idx = torch.multinomial(weights, 1, generator=gen).item()
        centroids.append(x[idx])
        closest = torch.minimum(closest, _sq_dists(x, x[idx][None])[:, 0])
    c = torch.stack(centroids)
    labels = torch.full((n,), -1, dtype=torch.long)
    for _ in range(iters):
        d = _sq_dists(x, c)
        new_labels = d.argmin(1)
        counts = torch.bincount(new_labels, minlength=k)
        for j in (counts == 0).nonzero().flatten().tolist():  # refill empty clusters
            far = d.gather(1, new_labels[:, None])[:, 0].argmax().item()
            new_labels[far] = j
            d[far] = 0
            counts = torch.bincount(new_labels, minlength=k)
        if torch.equal(new_labels, labels):
            break
        labels = new_labels
        c = torch.zeros_like(c).index_add_(0, labels, x) / counts[:, None].clamp_min(1)
    return c, labels


@dataclass
class Hierarchy:
    class_of: torch.Tensor  # (N,) pseudo-class of every pair
    domain_of: torch.Tensor  # (N,) domain inside its pseudo-class
    names: list[str]  # pseudo-class -> its most central caption

    @property
    def num_classes(self) -> int:
        return len(self.names)

    def members(self, c: int, d: int | None = None) -> torch.Tensor:
        mask = self.class_of == c
        if d is not None:
            mask &= self.domain_of == d
        return mask.nonzero().flatten()


def name_clusters(feats: torch.Tensor, centroids: torch.Tensor, labels: torch.Tensor, captions: list[str]) -> list[str]:
    """Each cluster's most central caption, unique across clusters where the cluster allows it."""
    names, used = [], set()
    for j in range(centroids.shape[0]):
        idx = (labels == j).nonzero().flatten()
        order = idx[(feats[idx] @ centroids[j]).argsort(descending=True, stable=True)].tolist()
        candidates = [captions[i] for i in order]
        name = next((c for c in candidates if c not in used), candidates[0])
        used.add(name)
        names.append(name)
    return names


def build_hierarchy(image_feats: torch.Tensor, text_feats: torch.Tensor, captions: list[str], k1: int, k2: int,
                    seed: int = 0, level1: str = "text", iters: int = 50) -> Hierarchy:
    if level1 not in LEVEL1_FEATURES:
        raise ValueError(f"level-1 features must be one of {LEVEL1_FEATURES}, not {level1!r}")
    img = F.normalize(image_feats.float(), dim=-1)
    txt = F.normalize(text_feats.float(), dim=-1)
    top = txt if level1 == "text" else F.normalize(img + txt, dim=-1)
    if k1 > top.shape[0]:
        raise ValueError(f"K1={k1} pseudo-classes but the corpus has only {top.shape[0]} pairs; lower K1.")
    centroids, class_of = kmeans(top, k1, seed, iters)
    names = name_clusters(top, F.normalize(centroids, dim=-1), class_of, captions)
    domain_of = torch.zeros_like(class_of)
    for c in range(k1):
        idx = (class_of == c).nonzero().flatten()
        _, dom = kmeans(img[idx], min(k2, len(idx)), seed + 1 + c, iters)
        domain_of[idx] = dom
    return Hierarchy(class_of, domain_of, names)
