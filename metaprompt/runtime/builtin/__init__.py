"""The built-in runtime: the subset of Dassl's API the CLIP prompt trainers use, written anew."""
from .config import get_cfg_default
from .data_manager import DataManager, build_transform
from .datasets import Datum, DatasetBase
from .engine import SimpleTrainer, TrainerBase, TrainerX, build_trainer
from .evaluation import Classification, build_evaluator
from .registry import DATASET_REGISTRY, EVALUATOR_REGISTRY, TRAINER_REGISTRY, Registry
from .utils import (
    collect_env_info,
    listdir_nohidden,
    mkdir_if_missing,
    read_json,
    set_random_seed,
    setup_logger,
    write_json,
)
