"""Cross-domain episodes: N pseudo-classes, support from one domain, query from another.

For every class of an episode the sampler picks two different domains of that class: K support
shots come from the first, the query images from the second, so the inner step has to
generalise across a visual shift. Classes with identical names never share an episode (their
text prompts would be the same). Sampling uses the sampler's own generator, whose state is
checkpointed, so a resumed run draws the same episodes.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .clustering import Hierarchy


class EpisodeError(ValueError):
    pass


@dataclass
class Episode:
    names: list[str]  # class names, by label
    support: torch.Tensor  # (N*K,) corpus indices
    support_labels: torch.Tensor
    query: torch.Tensor  # (N*Q,)
    query_labels: torch.Tensor


class EpisodeSampler:
    def __init__(self, hierarchy: Hierarchy, n_way: int, k_shot: int, n_query: int, seed: int = 0) -> None:
        self.h, self.n_way, self.k_shot, self.n_query = hierarchy, n_way, k_shot, n_query
        self.generator = torch.Generator().manual_seed(seed)
        # class -> [(support domain members, query domain members)] for every usable ordered pair
        self.pairs: dict[int, list[tuple[torch.Tensor, torch.Tensor]]] = {}
        for c in range(hierarchy.num_classes):
            doms = sorted(set(hierarchy.domain_of[hierarchy.class_of == c].tolist()))
            members = {d: hierarchy.members(c, d) for d in doms}
            usable = [(members[a], members[b]) for a in doms for b in doms
                      if a != b and len(members[a]) >= k_shot and len(members[b]) >= n_query]
            if usable:
                self.pairs[c] = usable
        self.classes = sorted(self.pairs)
        distinct = len({hierarchy.names[c] for c in self.classes})
        if distinct < n_way:
            raise EpisodeError(
                f"Only {distinct} of {hierarchy.num_classes} pseudo-classes have two domains with at least "
                f"K_SHOT={k_shot} and N_QUERY={n_query} images; an episode needs N_WAY={n_way}. Use a larger corpus, "
                "fewer pseudo-classes (K1), fewer domains (K2), or smaller N_WAY / K_SHOT / N_QUERY.")

    def _pick(self, pool: torch.Tensor, k: int) -> torch.Tensor:
        return pool[torch.randperm(len(pool), generator=self.generator)[:k]]

    def sample(self) -> Episode:
        order = torch.randperm(len(self.classes), generator=self.generator).tolist()
        chosen, seen = [], set()
        for i in order:
            c = self.classes[i]
            if self.h.names[c] not in seen:
                chosen.append(c)
                seen.add(self.h.names[c])
            if len(chosen) == self.n_way:
                break
        support, query = [], []
        for c in chosen:
            pairs = self.pairs[c]
            s_pool, q_pool = pairs[torch.randint(len(pairs), (1,), generator=self.generator).item()]
            support.append(self._pick(s_pool, self.k_shot))
            query.append(self._pick(q_pool, self.n_query))
        labels = torch.arange(self.n_way)
        return Episode([self.h.names[c] for c in chosen], torch.cat(support), labels.repeat_interleave(self.k_shot),
                       torch.cat(query), labels.repeat_interleave(self.n_query))

    def state_dict(self) -> dict:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.generator.set_state(state["generator"])
