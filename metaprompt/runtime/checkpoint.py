"""Checkpoint files in Dassl's layout, readable with ``torch.load(weights_only=True)``.

Layout: ``<run>/<model_name>/model.pth.tar-<epoch>`` plus a ``checkpoint`` text file naming the
latest one. Each file holds ``state_dict``, ``epoch`` (1-based, as Dassl), ``optimizer``,
``scheduler``, ``val_result`` and ``rng_state`` (so a resumed run continues the same random
streams). Only plain containers and tensors are stored, so loading never unpickles code.

:class:`SafeCheckpointMixin` gives a trainer Dassl's ``save_model`` / ``load_model`` /
``resume_model_if_exist`` on top of these files; it is used by the built-in engine and placed in
front of real Dassl's ``TrainerX`` so both runtimes read and write the same files.
"""
from __future__ import annotations

import errno
import os
import random
import re
from typing import Any

import numpy as np
import torch

from ..errors import UserInputError
from .finite import require_finite

CHECKPOINT_POINTER = "checkpoint"
BEST_MODEL = "model-best.pth.tar"  # Dassl's name for TEST.FINAL_MODEL best_val
_EPOCH_FILE = re.compile(r"^model\.pth\.tar-(\d+)$")


class CheckpointError(UserInputError, RuntimeError):
    """A checkpoint that is missing, corrupt, or holds the wrong tensors."""


def _rng_state() -> dict:
    np_state = np.random.get_state()
    state = {
        "python": random.getstate(),
        "numpy": [np_state[0], np_state[1].tolist(), np_state[2], np_state[3], np_state[4]],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict) -> None:
    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _write_failure(fpath: str, e: BaseException) -> CheckpointError:
    """Disk full (torch reports it as OSError ENOSPC or as its zip writer's RuntimeError) or read-only."""
    if isinstance(e, OSError) and e.errno == errno.ENOSPC or "unexpected pos" in str(e) or "enforce fail" in str(e):
        why = "the disk is full"
    elif isinstance(e, OSError) and e.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        why = f"the folder is not writable ({e.strerror})"
    else:
        why = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
    return CheckpointError(
        f'Could not write checkpoint "{fpath}": {why}. Earlier checkpoints are intact; free space (or fix '
        "the permissions) and run the same command again to resume from the last complete epoch.")


def save_checkpoint(state: dict, save_dir: str, model_name: str = "") -> str:
    model_name = model_name or f"model.pth.tar-{state['epoch']}"
    fpath = os.path.join(save_dir, model_name)
    require_finite(state.get("state_dict", {}), f'Checkpoint "{fpath}" not written',
                   "a learning rate or loss scale too high", "Nothing non-finite is ever saved.")
    tmp = fpath + ".tmp"
    try:
        os.makedirs(save_dir, exist_ok=True)
        torch.save(state, tmp)
        os.replace(tmp, fpath)  # a crash mid-write never leaves a truncated checkpoint behind
        with open(os.path.join(save_dir, CHECKPOINT_POINTER), "w") as f:
            f.write(f"{model_name}\n")
    except (OSError, RuntimeError) as e:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise _write_failure(fpath, e) from None
    return fpath


_EVAL_HINT = "Point --model-dir / --load-epoch at another checkpoint."


def load_checkpoint(fpath: str, hint: str = _EVAL_HINT, require_state_dict: bool = True) -> dict[str, Any]:
    """Read a checkpoint with ``weights_only=True``; any failure is one :class:`CheckpointError`."""
    if not os.path.isfile(fpath):
        raise CheckpointError(f'No checkpoint at "{fpath}". {hint}')
    try:
        ckpt = torch.load(fpath, map_location="cpu", weights_only=True)
    except Exception as e:  # a damaged file makes the unpickler fail in many ways (IndexError, OSError, ...)
        raise CheckpointError(
            f'Checkpoint "{fpath}" is corrupt or not a checkpoint of this project ({type(e).__name__}: '
            f"{str(e).splitlines()[0] if str(e) else ''}). {hint} Nothing was changed."
        ) from None
    if not isinstance(ckpt, dict) or (require_state_dict and "state_dict" not in ckpt):
        raise CheckpointError(f'"{fpath}" is not a checkpoint of this project (no "state_dict" entry). {hint}')
    return ckpt


def saved_epochs(model_dir: str) -> set[int]:
    """The epochs ``N`` with a ``model.pth.tar-N`` in ``model_dir``."""
    names = os.listdir(model_dir) if os.path.isdir(model_dir) else []
    return {int(m.group(1)) for m in map(_EPOCH_FILE.match, names) if m}


def resume_epoch(directory: str, names: list[str]) -> tuple[int | None, str]:
    """The newest epoch saved for *every* model in ``directory`` (None: nothing to resume), and a
    note when some model has a newer one: a run killed between two models' saves of one epoch
    resumes from the previous, complete epoch instead of mixing epochs."""
    per_model = {name: saved_epochs(os.path.join(directory, name)) for name in names}
    if not all(per_model.values()):
        return None, ""
    common = set.intersection(*per_model.values())
    if not common:
        detail = ", ".join(f"{n}: {sorted(e)}" for n, e in per_model.items())
        raise CheckpointError(f'"{directory}" holds no epoch saved for every model ({detail}), so it cannot be '
                              "resumed without mixing epochs. Use another --output-dir, or delete that folder's "
                              "checkpoints to train from scratch.")
    epoch = max(common)
    newer = {n: max(e) for n, e in per_model.items() if max(e) > epoch}
    note = ""
    if newer:
        note = (f"Note: {', '.join(f'{n} has epoch {e}' for n, e in newer.items())}, but not every model does "
                f"(interrupted while saving): resuming from epoch {epoch}, the newest saved for every model.")
    return epoch, note


def load_matching_state(model: torch.nn.Module, state_dict: dict, fpath: str, hint: str) -> None:
    """Load ``state_dict``; missing, unexpected or mis-shaped tensors are a :class:`CheckpointError`."""
    try:
        result = model.load_state_dict(state_dict, strict=False)
    except RuntimeError as e:  # shape mismatches are raised even when strict=False
        lines = [line.strip() for line in str(e).splitlines() if "size mismatch" in line]
        raise CheckpointError(f'"{fpath}" does not fit this model: {"; ".join(lines) or e}. {hint}') from None
    if result.missing_keys or result.unexpected_keys:
        raise CheckpointError(
            f'"{fpath}" does not fit this model (missing: {list(result.missing_keys)}, unexpected: '
            f"{list(result.unexpected_keys)}). {hint}"
        )


class SafeCheckpointMixin:
    """Dassl's checkpoint methods, on weights-only files (needs ``_models/_optims/_scheds``)."""

    def checkpoint_extra_state(self, name: str) -> dict:
        """Extra entries a trainer wants stored with model ``name`` (e.g. a second optimizer)."""
        return {}

    def load_checkpoint_extra_state(self, name: str, checkpoint: dict) -> None:
        pass

    def inference_model_names(self) -> list[str]:
        """The models ``load_model`` (evaluation) reads; training-only models can be left out."""
        return self.get_model_names()

    def save_model(self, epoch: int, directory: str, is_best: bool = False, val_result=None,
                   model_name: str = "") -> None:
        for name in self.get_model_names():
            optim, sched = self._optims[name], self._scheds[name]
            state = {
                "state_dict": self._models[name].state_dict(),
                "epoch": epoch + 1,
                "optimizer": optim.state_dict() if optim is not None else None,
                "scheduler": sched.state_dict() if sched is not None else None,
                "val_result": val_result,
                "rng_state": _rng_state(),
                **self.checkpoint_extra_state(name),
            }
            save_checkpoint(state, os.path.join(directory, name), model_name=model_name)

    def resume_model_if_exist(self, directory: str) -> int:
        names = self.get_model_names()
        epoch, note = resume_epoch(directory, names)
        if epoch is None:
            print("No checkpoint found, train from scratch")
            return 0
        if note:
            print(note)
        found = {name: os.path.join(directory, name, f"model.pth.tar-{epoch}") for name in names}
        print(f'Found checkpoint at "{directory}" (will resume training)')
        hint = (f'To resume anyway, delete that file (training restarts from an older checkpoint, or from '
                f'scratch if there is none), or use another --output-dir. "{directory}" may hold a run with '
                "another trainer or config.")
        start_epoch = 0
        for name in names:
            ckpt = load_checkpoint(found[name], hint=hint)
            load_matching_state(self._models[name], ckpt["state_dict"], found[name], hint)
            print("Loaded model weights")
            if self._optims[name] is not None and ckpt.get("optimizer"):
                self._optims[name].load_state_dict(ckpt["optimizer"])
                print("Loaded optimizer")
            if self._scheds[name] is not None and ckpt.get("scheduler"):
                self._scheds[name].load_state_dict(ckpt["scheduler"])
                print("Loaded scheduler")
            self.load_checkpoint_extra_state(name, ckpt)
            start_epoch = ckpt["epoch"]
            print(f"Previous epoch: {start_epoch}")
            if "rng_state" in ckpt:
                _set_rng_state(ckpt["rng_state"])
            best = os.path.join(directory, name, BEST_MODEL)
            if os.path.isfile(best):  # TEST.FINAL_MODEL best_val: only a better epoch may replace it
                self.best_result = load_checkpoint(best, hint=hint)["val_result"]
                print(f"Best val result so far: {self.best_result}")
        return start_epoch

    def load_model(self, directory: str, epoch: int | None = None) -> None:
        if not directory:
            print("Note that load_model() is skipped as no pretrained model is given")
            return
        names = self.inference_model_names()
        model_file = BEST_MODEL if epoch is None else f"model.pth.tar-{epoch}"
        for name in names:
            model_path = os.path.join(directory, name, model_file)
            if not os.path.exists(model_path):
                raise CheckpointError(
                    f'Model not found at "{model_path}". The training run in "{directory}" may not have '
                    "finished, or --load-epoch does not match the epochs it trained."
                )
            ckpt = load_checkpoint(model_path)
            state_dict = self.filter_loaded_state_dict(name, ckpt["state_dict"])
            print(f'Load {model_path} to {name} (epoch={ckpt["epoch"]}, val_result={ckpt.get("val_result")})')
            load_matching_state(self._models[name], state_dict, model_path,
                                "Evaluate with the trainer and config the model was trained with.")

    def filter_loaded_state_dict(self, name: str, state_dict: dict) -> dict:
        """Hook to drop class-specific entries so prompts trained on base classes load for new ones."""
        return state_dict
