"""A fabricated CoOp-family checkout, and a Dassl-shaped stand-in for machines without Dassl.

The checkout has what a CoOp / MaPLe / ProMetaR repository has where it matters to the plugin:

* ``datasets/`` registering ``OxfordPets`` and ``DescribableTextures`` (names the project has too);
* ``trainers/`` registering ``CoOp`` (a small working trainer) and ``MaPLe`` (registration only);
* a patched ``clip/`` package whose ``CLIP`` needs an extra ``design_details`` argument, as MaPLe's;
* ``train.py`` shaped like the family's: ``from dassl... import``, ``import datasets.*`` /
  ``import trainers.*``, its own ``extend_cfg`` (``TRAINER.COOP`` and ``TRAINER.MAPLE`` nodes with
  its defaults) and ``setup_cfg``; ``train_plugin_first.py`` is the same with the plugin line
  moved above every other import (the two import orders a user may choose).

The stand-in (``standin/dassl``) presents the built-in runtime's code under Dassl's module names as a
separate copy: its classes, registries and default config are not ``metaprompt.runtime``'s, so the
project meets it as it meets real Dassl (``BACKEND == "dassl"``, foreign registries, the checkpoint
mixin in front of a foreign ``TrainerX``).
"""
from __future__ import annotations

import os
import textwrap

PLUGIN_LINE = "import metaprompt.dassl_plugin  # noqa: F401  (ProMetaR and GRAM)"

STANDIN = {
    # A second, private copy of the built-in runtime's modules, loaded from the installed package's files
    # without running metaprompt/__init__ (which would import this stand-in back): its classes,
    # registries and default config are not metaprompt.runtime's, as real Dassl's are not.
    "dassl/__init__.py": """
        \"\"\"Stand-in for Dassl in tests: the built-in runtime's code under Dassl's module names.\"\"\"
        import importlib
        import importlib.util
        import os
        import sys
        import types

        _ROOT = os.path.dirname(importlib.util.find_spec("metaprompt").origin)


        def _package(name, path):
            if name not in sys.modules:
                module = types.ModuleType(name)
                module.__path__ = [path]
                sys.modules[name] = module
            return sys.modules[name]


        _package("_dassl_standin", _ROOT)
        _package("_dassl_standin.runtime", os.path.join(_ROOT, "runtime"))
        builtin = importlib.import_module("_dassl_standin.runtime.builtin")
        optim = importlib.import_module("_dassl_standin.runtime.optim")
        """,
    "dassl/config/__init__.py": "from dassl import builtin\n\nget_cfg_default = builtin.get_cfg_default\n",
    "dassl/engine/__init__.py": """
        from dassl import builtin

        TRAINER_REGISTRY, TrainerX, build_trainer = builtin.TRAINER_REGISTRY, builtin.TrainerX, builtin.build_trainer
        """,
    "dassl/data/__init__.py": "from dassl import builtin\n\nDataManager = builtin.DataManager\n",
    "dassl/data/datasets/__init__.py": """
        from dassl import builtin

        DATASET_REGISTRY, DatasetBase, Datum = builtin.DATASET_REGISTRY, builtin.DatasetBase, builtin.Datum
        """,
    "dassl/optim/__init__.py": """
        from dassl import optim

        build_optimizer, build_lr_scheduler = optim.build_optimizer, optim.build_lr_scheduler
        """,
    "dassl/utils/__init__.py": """
        from dassl import builtin

        collect_env_info, listdir_nohidden, mkdir_if_missing = (builtin.collect_env_info, builtin.listdir_nohidden,
                                                                builtin.mkdir_if_missing)
        read_json, write_json, set_random_seed, setup_logger = (builtin.read_json, builtin.write_json,
                                                                builtin.set_random_seed, builtin.setup_logger)
        """,
}

CHECKOUT = {
    "clip/__init__.py": "from .clip import *  # noqa: F401,F403\n",
    "clip/clip.py": """
        from .model import CLIP, build_model  # noqa: F401

        __all__ = ["CLIP", "build_model"]
        """,
    "clip/model.py": """
        import torch
        from torch import nn


        class CLIP(nn.Module):
            \"\"\"The checkout's patched CLIP: one more constructor argument than OpenAI's.\"\"\"

            def __init__(self, embed_dim, design_details):
                super().__init__()
                self.design = design_details["trainer"]
                self.visual = nn.Sequential(nn.AdaptiveAvgPool2d(4), nn.Flatten(), nn.Linear(48, embed_dim))


        def build_model(state_dict, design_details):
            return CLIP(state_dict["embed_dim"], design_details)
        """,
    "datasets/__init__.py": "",
    "datasets/oxford_pets.py": """
        from dassl.data.datasets import DATASET_REGISTRY, DatasetBase


        @DATASET_REGISTRY.register()
        class OxfordPets(DatasetBase):
            dataset_dir = "oxford_pets"
        """,
    "datasets/dtd.py": """
        from dassl.data.datasets import DATASET_REGISTRY, DatasetBase


        @DATASET_REGISTRY.register()
        class DescribableTextures(DatasetBase):
            dataset_dir = "dtd"
        """,
    "trainers/__init__.py": "",
    "trainers/coop.py": """
        import torch
        import torch.nn.functional as F
        from torch import nn

        from clip import clip
        from dassl.engine import TRAINER_REGISTRY, TrainerX
        from dassl.optim import build_lr_scheduler, build_optimizer


        class CustomCLIP(nn.Module):
            def __init__(self, clip_model, n_cls, n_ctx):
                super().__init__()
                self.clip = clip_model
                self.prompt_learner = nn.Linear(n_ctx, n_cls)
                self.ctx = n_ctx

            def forward(self, image):
                return self.prompt_learner(self.clip.visual(image.float())[:, :self.ctx])


        @TRAINER_REGISTRY.register()
        class CoOp(TrainerX):
            def check_cfg(self, cfg):
                assert cfg.TRAINER.COOP.PREC in ["fp16", "fp32", "amp"]

            def build_model(self):
                cfg = self.cfg
                print("Checkout CoOp: building its own model")
                clip_model = clip.CLIP(32, design_details={"trainer": "CoOp"})  # the patched class
                self.model = CustomCLIP(clip_model, self.dm.num_classes, cfg.TRAINER.COOP.N_CTX)
                for p in self.model.clip.parameters():
                    p.requires_grad_(False)
                self.model.to(self.device)
                self.optim = build_optimizer(self.model.prompt_learner, cfg.OPTIM)
                self.sched = build_lr_scheduler(self.optim, cfg.OPTIM)
                self.register_model("prompt_learner", self.model.prompt_learner, self.optim, self.sched)

            def forward_backward(self, batch):
                image, label = batch["img"].to(self.device), batch["label"].to(self.device)
                output = self.model(image)
                loss = F.cross_entropy(output, label)
                self.model_backward_and_update(loss)
                if (self.batch_idx + 1) == self.num_batches:
                    self.update_lr()
                return {"loss": loss.item()}
        """,
    "trainers/maple.py": """
        from dassl.engine import TRAINER_REGISTRY, TrainerX


        @TRAINER_REGISTRY.register()
        class MaPLe(TrainerX):
            pass
        """,
    "configs/trainers/CoOp/tiny.yaml": """
        DATALOADER:
          TRAIN_X:
            BATCH_SIZE: 8
          NUM_WORKERS: 0
        INPUT:
          SIZE: (32, 32)
          TRANSFORMS: ["normalize"]
        OPTIM:
          NAME: "sgd"
          LR: 0.01
          MAX_EPOCH: 1
          LR_SCHEDULER: "cosine"
        TRAINER:
          COOP:
            N_CTX: 8
        """,
}

TRAIN_PY = '''
"""A CoOp-family train.py (same arguments, imports and config set-up), fabricated for tests."""
import argparse

{plugin_first}from dassl.utils import setup_logger, set_random_seed, collect_env_info
from dassl.config import get_cfg_default
from dassl.engine import build_trainer

# custom
import datasets.oxford_pets
import datasets.dtd

import trainers.coop
import trainers.maple
{plugin_after}

def reset_cfg(cfg, args):
    if args.root:
        cfg.DATASET.ROOT = args.root
    if args.output_dir:
        cfg.OUTPUT_DIR = args.output_dir
    if args.seed:
        cfg.SEED = args.seed
    if args.trainer:
        cfg.TRAINER.NAME = args.trainer


def extend_cfg(cfg):
    from yacs.config import CfgNode as CN

    cfg.TRAINER.COOP = CN()
    cfg.TRAINER.COOP.N_CTX = 16
    cfg.TRAINER.COOP.CSC = False
    cfg.TRAINER.COOP.CTX_INIT = ""
    cfg.TRAINER.COOP.PREC = "fp16"
    cfg.TRAINER.COOP.CLASS_TOKEN_POSITION = "end"
    cfg.TRAINER.MAPLE = CN()
    cfg.TRAINER.MAPLE.N_CTX = 2
    cfg.TRAINER.MAPLE.CTX_INIT = "a photo of a"
    cfg.TRAINER.MAPLE.PREC = "fp16"
    cfg.TRAINER.MAPLE.PROMPT_DEPTH = 9
    cfg.DATASET.SUBSAMPLE_CLASSES = "all"


def setup_cfg(args):
    cfg = get_cfg_default()
    extend_cfg(cfg)
    if args.dataset_config_file:
        cfg.merge_from_file(args.dataset_config_file)
    if args.config_file:
        cfg.merge_from_file(args.config_file)
    reset_cfg(cfg, args)
    cfg.merge_from_list(args.opts)
    cfg.freeze()
    return cfg


def main(args):
    cfg = setup_cfg(args)
    if cfg.SEED >= 0:
        set_random_seed(cfg.SEED)
    setup_logger(cfg.OUTPUT_DIR)
    print("** System info **\\n{{}}\\n".format(collect_env_info()))
    trainer = build_trainer(cfg)
    if args.eval_only:
        trainer.load_model(args.model_dir, epoch=args.load_epoch)
        trainer.test()
        return
    if not args.no_train:
        trainer.train()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", type=str, default="")
    parser.add_argument("--output-dir", type=str, default="")
    parser.add_argument("--seed", type=int, default=-1)
    parser.add_argument("--config-file", type=str, default="")
    parser.add_argument("--dataset-config-file", type=str, default="")
    parser.add_argument("--trainer", type=str, default="")
    parser.add_argument("--eval-only", action="store_true")
    parser.add_argument("--model-dir", type=str, default="")
    parser.add_argument("--load-epoch", type=int)
    parser.add_argument("--no-train", action="store_true")
    parser.add_argument("opts", default=None, nargs=argparse.REMAINDER)
    main(parser.parse_args())
'''


def _write(root: str, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(textwrap.dedent(text).lstrip("\n"))


def write_standin(root: str) -> str:
    """The stand-in ``dassl`` package under ``root``; put ``root`` on PYTHONPATH."""
    _write(root, STANDIN)
    return root


def write_checkout(root: str) -> str:
    """The fabricated checkout under ``root``: ``train.py`` (plugin after the checkout's imports)
    and ``train_plugin_first.py`` (plugin before them)."""
    _write(root, CHECKOUT)
    _write(root, {"train.py": TRAIN_PY.format(plugin_first="", plugin_after="\n" + PLUGIN_LINE + "\n"),
                  "train_plugin_first.py": TRAIN_PY.format(plugin_first=PLUGIN_LINE + "\n\n", plugin_after="")})
    return root
