"""``import metaprompt.dassl_plugin`` in a CoOp-family checkout (tests/fake_checkout.py).

What each runtime covers:

* ``standin``: a Dassl-shaped package (a private copy of the built-in runtime under Dassl's module
  names: its own registries, default config and ``TrainerX``). Always runs. Covers the plugin's
  logic end to end: both import orders, names left to the checkout, config keys without touching
  the checkout's ``setup_cfg``, the checkout's patched ``clip/``, log lines, the forced-runtime error.
* ``dassl``: the same runs under real Dassl where it is installed (skipped otherwise). Covers what
  the stand-in cannot: Dassl's own ``Registry``, ``cfg_default`` and training loop.
"""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import pytest

from fake_checkout import write_checkout, write_standin
from runs import REPO

SYNTHETIC = os.path.join(REPO, "configs", "datasets", "synthetic.yaml")
HAS_DASSL = importlib.util.find_spec("dassl") is not None
RUNTIMES = ["standin", pytest.param("dassl", marks=pytest.mark.skipif(not HAS_DASSL, reason="Dassl is not installed"))]


@pytest.fixture(scope="module")
def checkout(tmp_path_factory):
    root = tmp_path_factory.mktemp("checkout")
    return write_checkout(str(root / "repo")), write_standin(str(root / "standin"))


def run_checkout(checkout, runtime, script, trainer, out, *opts, config, extra_env=None):
    repo, standin = checkout
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "METAPROMPT_RUNTIME")}
    if runtime == "standin":
        env["PYTHONPATH"] = standin
    env.update(extra_env or {})
    argv = [sys.executable, script, "--root", str(out.parent / "data"), "--seed", "1", "--trainer", trainer,
            "--dataset-config-file", SYNTHETIC, "--config-file", config, "--output-dir", str(out), *map(str, opts)]
    return subprocess.run(argv, cwd=repo, env=env, capture_output=True, text=True, timeout=300)


def read_log(out) -> str:
    with open(os.path.join(str(out), "log.txt"), encoding="utf-8") as f:
        return f.read()


LEFT_NOTE = ("metaprompt: names this checkout registers itself stay its own; the project's classes of these names "
             "are not registered: CoOp (trainers.coop), DescribableTextures (datasets.dtd), MaPLe (trainers.maple), "
             "OxfordPets (datasets.oxford_pets)")


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_checkout_keeps_its_own_coop_with_the_plugin_imported_first(checkout, runtime, tmp_path):
    out = tmp_path / "coop"
    proc = run_checkout(checkout, runtime, "train_plugin_first.py", "CoOp", out, "DATASET.NUM_SHOTS", 1,
                        config="configs/trainers/CoOp/tiny.yaml")
    assert proc.returncode == 0, proc.stderr[-3000:]
    log = read_log(out)
    assert "Checkout CoOp: building its own model" in log  # its class, with its patched CLIP
    assert log.count(LEFT_NOTE) == 1  # said once, in log.txt
    assert "* accuracy:" in log


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_prometar_runs_through_the_checkouts_train_py(checkout, runtime, tmp_path):
    out = tmp_path / "prometar"
    proc = run_checkout(checkout, runtime, "train.py", "ProMetaR", out, "DATASET.NUM_SHOTS", 1,
                        "DATASET.SUBSAMPLE_CLASSES", "base", "OPTIM.MAX_EPOCH", 1, "OPTIM_VNET.MAX_EPOCH", 1,
                        "TRAINER.PROMETAR.PREC", "fp16",
                        config=os.path.join(REPO, "configs", "trainers", "ProMetaR", "smoke.yaml"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    log = read_log(out)
    assert log.count(LEFT_NOTE) == 1
    assert "ProMetaR wraps IVLP" in log  # the project's trainer, with keys the checkout's setup_cfg never made
    assert "TRAINER.PROMETAR.PREC fp16 on cpu: running in fp32" in log  # the CPU fallback is in the log too
    assert "* accuracy:" in log
    assert os.path.isfile(out / "prompt_learner" / "model.pth.tar-1")


def test_gram_runs_through_the_checkouts_train_py(checkout, tmp_path):
    out = tmp_path / "gram"
    proc = run_checkout(checkout, "standin", "train_plugin_first.py", "GRAM", out, "DATASET.NUM_SHOTS", 1,
                        "DATASET.SUBSAMPLE_CLASSES", "base", "OPTIM.MAX_EPOCH", 1,
                        # without an artefact (meta-training is its own script): GRAM's trainer, config node and
                        # wrapped CoOp learner through the checkout; the artefact path is tests/test_gram_trainer.py's
                        "TRAINER.GRAM.USE_INIT", False, "TRAINER.GRAM.USE_REGULATOR", False,
                        config=os.path.join(REPO, "configs", "trainers", "GRAM", "smoke.yaml"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "* accuracy:" in read_log(out)


def test_forced_builtin_runtime_in_a_dassl_train_py_is_one_line(checkout, tmp_path):
    proc = run_checkout(checkout, "standin", "train.py", "ProMetaR", tmp_path / "run",
                        config=os.path.join(REPO, "configs", "trainers", "ProMetaR", "smoke.yaml"),
                        extra_env={"METAPROMPT_RUNTIME": "builtin"})
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()]
    assert proc.stderr.startswith("error: METAPROMPT_RUNTIME=builtin forces the built-in runtime, but this "
                                  "train.py builds its trainers with Dassl")
    assert "Unset METAPROMPT_RUNTIME" in proc.stderr


# -- the pieces, in process -------------------------------------------------------------------

def _foreign_class(name: str, module: str = "datasets.oxford_pets"):
    return type(name, (), {"__module__": module})


def test_a_name_the_checkout_registered_first_is_left_to_it(monkeypatch):
    from metaprompt import runtime
    from metaprompt.datasets.oxford_pets import OxfordPets
    from metaprompt.runtime.builtin.registry import Registry

    monkeypatch.setattr(runtime, "LEFT_TO_CHECKOUT", {})
    registry = Registry("DATASET")
    theirs = _foreign_class("OxfordPets")
    registry.register(theirs)
    runtime._register(registry, OxfordPets)
    assert registry.get("OxfordPets") is theirs
    assert runtime.LEFT_TO_CHECKOUT == {"OxfordPets": "datasets.oxford_pets"}


@pytest.fixture
def plugin(monkeypatch):
    """The plugin installed in this process, and undone afterwards (it patches the registries and the
    runtime's default config, which later tests in the session must see unchanged). The tests run
    on the built-in runtime even where Dassl is installed, which the plugin refuses in a checkout."""
    from metaprompt import runtime

    monkeypatch.setattr(runtime, "dassl_install", lambda: None)

    defaults = runtime.get_cfg_default()
    node = sys.modules[runtime.get_cfg_default.__module__]
    node = getattr(node, "cfg_default", None) or node._C
    saved, hook = node.clone(), sys.excepthook
    from metaprompt import dassl_plugin

    if "_metaprompt_plugin" not in runtime.TRAINER_REGISTRY.__dict__:  # imported by an earlier test, then undone
        dassl_plugin.install()
    yield dassl_plugin
    sys.excepthook = hook
    for registry in (runtime.TRAINER_REGISTRY, runtime.DATASET_REGISTRY):
        for attr in ("_do_register", "get", "registered_names", "_metaprompt_plugin"):
            registry.__dict__.pop(attr, None)
    node.clear()
    node.update(saved)
    assert runtime.get_cfg_default() == defaults


def test_a_checkout_registering_after_the_project_replaces_its_entry_and_is_noted_once(plugin, monkeypatch,
                                                                                        capsys):
    from metaprompt import runtime
    from metaprompt.datasets.oxford_pets import OxfordPets
    from metaprompt.runtime.builtin.registry import Registry

    monkeypatch.setattr(runtime, "LEFT_TO_CHECKOUT", {})
    monkeypatch.setattr(plugin, "_noted", False)
    registry = Registry("DATASET")
    runtime._register(registry, OxfordPets)
    plugin.yield_names_to_checkout(registry)
    theirs = _foreign_class("OxfordPets")
    registry.register(theirs)  # Dassl's registry would raise "already registered" here
    assert registry.get("OxfordPets") is theirs and registry.get("OxfordPets") is theirs
    assert capsys.readouterr().out.count("OxfordPets (datasets.oxford_pets)") == 1
    with pytest.raises(KeyError, match="already registered"):  # two foreign classes still clash
        registry.register(_foreign_class("OxfordPets", "other.module"))


def test_the_plugin_adds_the_project_keys_to_the_runtime_defaults(plugin):
    from metaprompt.runtime import get_cfg_default

    cfg = get_cfg_default()
    assert {"PROMETAR", "GRAM"} <= set(cfg.TRAINER) and "OPTIM_VNET" in cfg and cfg.MODEL.BACKBONE.PATH == ""


@pytest.mark.parametrize("init", [None, "", "VERSION = 1\n"], ids=["namespace", "empty-init", "not-dassl"])
def test_a_dassl_folder_that_is_not_dassl_is_not_taken_for_it(init, tmp_path, monkeypatch):
    from metaprompt.runtime import dassl_install

    monkeypatch.delitem(sys.modules, "dassl", raising=False)
    installed = dassl_install()  # a real Dassl further down sys.path wins over a namespace folder
    (tmp_path / "dassl" / "data").mkdir(parents=True)
    if init is not None:
        (tmp_path / "dassl" / "__init__.py").write_text(init)
    monkeypatch.syspath_prepend(str(tmp_path))
    assert dassl_install() == (installed if init is None else None)


def test_the_standin_is_taken_for_dassl(checkout, monkeypatch):
    from metaprompt.runtime import dassl_install

    monkeypatch.syspath_prepend(checkout[1])
    monkeypatch.delitem(sys.modules, "dassl", raising=False)
    assert dassl_install() == os.path.join(checkout[1], "dassl")


def test_missing_openai_clip_names_the_module_found_instead(monkeypatch, tmp_path):
    from metaprompt.clip import openai

    monkeypatch.setattr(openai, "_installed_init", lambda: None)
    monkeypatch.setattr(openai, "_found_by_name", lambda: str(tmp_path / "clip" / "__init__.py"))
    with pytest.raises(openai.ClipPackageError) as e:
        openai._load()
    msg = str(e.value)
    assert "\n" not in msg and str(tmp_path / "clip" / "__init__.py") in msg and "pip install clip-anytorch" in msg


def test_project_clip_ignores_a_shadowing_clip_folder(tmp_path):
    (tmp_path / "clip").mkdir()
    (tmp_path / "clip" / "__init__.py").write_text("class CLIP:\n    def __init__(self, design_details): pass\n")
    code = ("import clip, metaprompt\nfrom metaprompt.clip import load_clip, openai\n"
            "assert clip.__file__.startswith(%r)\n"  # the folder keeps the name `clip` for its own code
            "print(type(load_clip('tiny-vit')).__module__, openai.clip.__name__)" % str(tmp_path))
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.split() == ["_metaprompt_openai_clip.model", "_metaprompt_openai_clip"]


def test_a_dassl_that_does_not_import_is_one_line(tmp_path):
    for part in ("config", "engine", "data/datasets", "utils"):
        (tmp_path / "dassl" / part).mkdir(parents=True)
        (tmp_path / "dassl" / part / "__init__.py").write_text("")
    (tmp_path / "dassl" / "__init__.py").write_text("")
    (tmp_path / "dassl" / "engine" / "__init__.py").write_text("import gdown_not_installed_here\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "METAPROMPT_RUNTIME": "auto"}
    proc = subprocess.run([sys.executable, os.path.join(REPO, "train.py"), "--help"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        f"error: Dassl at {tmp_path / 'dassl'} does not import (ModuleNotFoundError: No module named "
        "'gdown_not_installed_here'). Install what it needs (see docs/dassl.md), or use the built-in runtime "
        "(METAPROMPT_RUNTIME=builtin / train.py --runtime builtin).")


def test_project_errors_in_a_checkouts_main_are_one_line(plugin, monkeypatch, capsys):
    from metaprompt.errors import ConfigError

    seen = []
    monkeypatch.setattr(sys, "excepthook", plugin.one_line_errors(lambda *exc: seen.append(exc[0])))
    sys.excepthook(ConfigError, ConfigError("Unknown config key 'X' in opts."), None)
    assert capsys.readouterr().err == "error: Unknown config key 'X' in opts.\n" and seen == []
    sys.excepthook(KeyError, KeyError("x"), None)  # anything else: the previous hook (a traceback)
    assert seen == [KeyError]


def test_only_the_openai_module_imports_clip_by_name(repo):
    """A checkout's clip/ folder shadows `import clip`: every other module takes CLIP from
    metaprompt.clip.openai (a new `from clip.model import ...` broke the drop-in once)."""
    import re

    offenders = []
    for top in ("metaprompt", "trainers", "datasets", "benchmarks"):
        for folder, _, files in os.walk(os.path.join(repo, top)):
            for name in files:
                path = os.path.join(folder, name)
                if not name.endswith(".py") or path.endswith(os.path.join("clip", "openai.py")):
                    continue
                text = open(path, encoding="utf-8").read()
                if re.search(r"^\s*(from clip(\.\w+)* import|import clip\b)", text, re.M):
                    offenders.append(os.path.relpath(path, repo))
    assert offenders == []
