"""CoOp's config precedence: defaults < dataset YAML < trainer YAML < CLI arguments < trailing opts."""
import metaprompt  # noqa: F401  (trainer config nodes)
from metaprompt.cli.train import args_to_overrides, build_parser
from metaprompt.config import build_cfg


def cfg_from(argv):
    args = build_parser().parse_args(argv)
    return build_cfg(args.dataset_config_file, args.config_file, args.opts or [], args_to_overrides(args))


def test_precedence(tmp_path):
    dataset_yaml = tmp_path / "dataset.yaml"
    dataset_yaml.write_text("DATASET:\n  NAME: Synthetic\n  ROOT: /from/dataset/yaml\n"
                            "OPTIM:\n  LR: 0.5\n  MAX_EPOCH: 7\nSEED: 11\n")
    trainer_yaml = tmp_path / "trainer.yaml"
    trainer_yaml.write_text("OPTIM:\n  LR: 0.25\nSEED: 12\nTRAINER:\n  COOP:\n    N_CTX: 8\n")

    base = ["--dataset-config-file", str(dataset_yaml), "--config-file", str(trainer_yaml)]
    cfg = cfg_from(base)
    assert cfg.DATASET.NAME == "Synthetic"  # dataset YAML over the defaults
    assert cfg.OPTIM.MAX_EPOCH == 7
    assert cfg.OPTIM.LR == 0.25  # trainer YAML over dataset YAML
    assert cfg.TRAINER.COOP.N_CTX == 8 and cfg.TRAINER.COOP.PREC == "fp16"  # extension defaults stay
    assert cfg.DATASET.SUBSAMPLE_CLASSES == "all" and cfg.MODEL.BACKBONE.PATH == ""  # project keys exist
    assert cfg.SEED == -1  # CoOp's --seed defaults to -1 and always overrides the YAML

    cfg = cfg_from(base + ["--root", "/from/args", "--seed", "3", "--trainer", "CoOp"])
    assert (cfg.DATASET.ROOT, cfg.SEED, cfg.TRAINER.NAME) == ("/from/args", 3, "CoOp")  # args over YAML

    cfg = cfg_from(base + ["--root", "/from/args", "--seed", "3", "SEED", "5", "DATASET.ROOT", "/from/opts",
                           "OPTIM.LR", "0.125"])
    assert (cfg.DATASET.ROOT, cfg.SEED, cfg.OPTIM.LR) == ("/from/opts", 5, 0.125)  # opts over everything
    assert cfg.is_frozen()
