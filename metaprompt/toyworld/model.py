"""The toy world's CLIP: CLIP's own architecture at toy size, its compact checkpoint, the backbone.

The checkpoint keeps only the token-embedding rows of words the toy world uses (the other
49k rows of CLIP's vocabulary are zero: words the model never saw carry no meaning), which
makes the shipped fp16 file about a megabyte instead of six. ``load_toy_clip`` rebuilds a
full :class:`clip.model.CLIP` from it, so everything downstream sees an ordinary CLIP.

Two toy CLIPs are backbones: ``toy-vit`` (4 layers, 64 wide, the default of every toy recipe) and
``toy-vit-l12`` (12 layers per tower and a 512-wide joint embedding like ViT-B/16's, so the
release's depth-9 prompts apply; pretrained on the template words too, ``template_world.py``).
Each loads, in order: the file named by its environment variable (``METAPROMPT_TOY_CLIP``,
``METAPROMPT_TOY_CLIP_L12``), the file shipped in the package, the regenerated cache; if none
exists it says how to regenerate one.
"""
from __future__ import annotations

import os

import torch

from metaprompt.clip.openai import CLIP, clip
from metaprompt.clip.loading import MissingWeightsError, register_backbone

FORMAT = "metaprompt-toy-clip-v1"
TOY_VIT = dict(embed_dim=64, image_resolution=32, vision_layers=4, vision_width=64, vision_patch_size=8,
               context_length=77, vocab_size=49408, transformer_width=64, transformer_heads=2,
               transformer_layers=4)
# ViT-B/16's depth and joint width; towers stay 64 wide so that it pretrains on a CPU in about an hour.
TOY_VIT_L12 = dict(TOY_VIT, embed_dim=512, vision_layers=12, transformer_layers=12)
_DATA = os.path.join(os.path.dirname(os.path.dirname(__file__)), "data")
# backbone name -> (file name, architecture, environment variable naming a file to load instead)
TOY_BACKBONES = {"toy-vit": ("toy_clip.pt", TOY_VIT, "METAPROMPT_TOY_CLIP"),
                 "toy-vit-l12": ("toy_clip_l12.pt", TOY_VIT_L12, "METAPROMPT_TOY_CLIP_L12")}
SHIPPED = os.path.join(_DATA, "toy_clip.pt")
EMBEDDING = "token_embedding.weight"


def shipped_path(backbone: str = "toy-vit") -> str:
    return os.path.join(_DATA, TOY_BACKBONES[backbone][0])


def cache_path(backbone: str = "toy-vit") -> str:
    root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(root, "metaprompt", TOY_BACKBONES[backbone][0])


def build_toy_clip(seed: int = 0, spec: dict | None = None) -> CLIP:
    """A freshly initialised toy CLIP (deterministic for a seed; the global RNG is left as it was)."""
    state = torch.random.get_rng_state()
    try:
        torch.manual_seed(seed)
        model = CLIP(**(spec or TOY_VIT))
    finally:
        torch.random.set_rng_state(state)
    return model.float()


def vocabulary_token_ids(words) -> torch.Tensor:
    """Sorted token ids of ``words`` plus start/end of text and the period."""
    ids = set()
    for word in list(words) + ["."]:
        tokens = clip.tokenize(word)[0]
        ids.update(int(t) for t in tokens[tokens > 0])
    return torch.tensor(sorted(ids))


def save_toy_clip(model: CLIP, token_ids: torch.Tensor, path: str, spec: dict, meta: dict) -> None:
    """fp16 state dict without the full token embedding, plus the rows of ``token_ids``."""
    state = {k: v.detach().half().clone() for k, v in model.state_dict().items() if k != EMBEDDING}
    rows = model.state_dict()[EMBEDDING][token_ids].detach().half().clone()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = f"{path}.tmp"
    torch.save({"format": FORMAT, "spec": dict(spec), "state_dict": state, "token_ids": token_ids.clone(),
                "token_rows": rows, "meta": meta}, tmp)
    os.replace(tmp, path)  # never leave a half-written checkpoint where a reader looks


def read_toy_checkpoint(path: str) -> dict:
    obj = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        raise ValueError(f"{path} is not a toy CLIP checkpoint ({FORMAT}); regenerate it with "
                         "python -m metaprompt.toyworld.pretrain --out PATH")
    return obj


def load_toy_clip(path: str) -> CLIP:
    """An fp32 CLIP rebuilt from a compact toy checkpoint (unused vocabulary rows are zero)."""
    obj = read_toy_checkpoint(path)
    spec = obj["spec"]
    state = {k: v.float() for k, v in obj["state_dict"].items()}
    embedding = torch.zeros(spec["vocab_size"], spec["transformer_width"])
    embedding[obj["token_ids"]] = obj["token_rows"].float()
    state[EMBEDDING] = embedding
    model = CLIP(**spec)
    model.load_state_dict(state)
    return model.float().eval()


def toy_checkpoint_path(backbone: str = "toy-vit") -> str:
    """Where a toy backbone reads from (see the module doc for the order)."""
    variable = TOY_BACKBONES[backbone][2]
    override = os.environ.get(variable)
    if override:
        if not os.path.isfile(override):
            raise MissingWeightsError(f"{variable}={override} does not exist.")
        return override
    for candidate in (shipped_path(backbone), cache_path(backbone)):
        if os.path.isfile(candidate):
            return candidate
    raise MissingWeightsError(
        f"The {backbone} checkpoint is missing (looked for {shipped_path(backbone)} and {cache_path(backbone)}). "
        f"Regenerate it: python -m metaprompt.toyworld.pretrain --backbone {backbone} --out {cache_path(backbone)}")


@register_backbone("toy-vit")
def _toy_vit() -> CLIP:
    return load_toy_clip(toy_checkpoint_path("toy-vit"))


@register_backbone("toy-vit-l12")
def _toy_vit_l12() -> CLIP:
    return load_toy_clip(toy_checkpoint_path("toy-vit-l12"))
