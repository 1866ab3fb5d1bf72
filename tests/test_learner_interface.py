"""The prompt-learner interface ProMetaR and GRAM build on: stable names, modality and layer per
tensor, and a functional forward (``params`` override == ``torch.func.functional_call``)."""
from __future__ import annotations

import pytest
import torch
from torch.func import functional_call, grad

from metaprompt.clip import build_tiny_clip
from metaprompt.learners import CoOpLearner, IVLPLearner, MaPLeLearner, PromptedCLIP, VPTLearner, learner_names
from metaprompt.learners.cocoop import META_NET, CoCoOpLearner
from metaprompt.learners.kgcoop import KgCoOpLearner
from metaprompt.learners.promptsrc import PromptSRCLearner

CLASSNAMES = ["red circle", "blue square", "green triangle"]


@pytest.fixture(scope="module")
def clip_model():
    return build_tiny_clip()


def attached(learner, clip_model):
    learner.attach(clip_model)  # what PromptedCLIP does first (CoCoOp sizes its meta-net from the CLIP)
    return learner


LEARNERS = {
    "CoOp": lambda m: CoOpLearner(m.token_embedding, len(CLASSNAMES), n_ctx=4),
    "KgCoOp": lambda m: KgCoOpLearner(m.token_embedding, len(CLASSNAMES), n_ctx=4),
    "CoCoOp": lambda m: attached(CoCoOpLearner(m.token_embedding, n_ctx=4), m),
    "CoOp-CSC": lambda m: CoOpLearner(m.token_embedding, len(CLASSNAMES), n_ctx=4, csc=True),
    "VPT": lambda m: VPTLearner(m.token_embedding, 64, n_ctx_vision=2, depth_vision=3),
    "IVLP": lambda m: IVLPLearner(m.token_embedding, 64, n_ctx_text=2, n_ctx_vision=2, depth_text=3, depth_vision=2),
    "MaPLe": lambda m: MaPLeLearner(m.token_embedding, 64, n_ctx=2, depth=3),
    "PromptSRC": lambda m: PromptSRCLearner(m.token_embedding, 64, n_ctx_text=2, n_ctx_vision=2, depth_text=3,
                                            depth_vision=2),
}

EXPECTED_SPECS = {  # name -> (modality, layer)
    "CoOp": {"text_ctx": ("text", 0)},
    "CoOp-CSC": {"text_ctx": ("text", 0)},
    "KgCoOp": {"text_ctx": ("text", 0)},
    "CoCoOp": {"text_ctx": ("text", 0), **{name: ("text", 0) for name in META_NET}},
    "VPT": {"vision_ctx": ("vision", 0), "vision_deep_1": ("vision", 1), "vision_deep_2": ("vision", 2)},
    "IVLP": {"text_ctx": ("text", 0), "text_deep_1": ("text", 1), "text_deep_2": ("text", 2),
             "vision_ctx": ("vision", 0), "vision_deep_1": ("vision", 1)},
    "MaPLe": {"text_ctx": ("text", 0), "text_deep_1": ("text", 1), "text_deep_2": ("text", 2),
              **{f"coupling_{i}_{k}": ("coupling", i) for i in range(3) for k in ("weight", "bias")}},
}
EXPECTED_SPECS["PromptSRC"] = EXPECTED_SPECS["IVLP"]  # IVLP's prompts


def test_every_registered_learner_with_prompts_has_a_row():
    assert set(learner_names()) - {"ZeroshotCLIP"} <= set(LEARNERS)


def model_and_params(clip_model, name, seed=3):
    model = PromptedCLIP(clip_model, LEARNERS[name](clip_model), CLASSNAMES)
    g = torch.Generator().manual_seed(seed)
    new = {k: torch.randn(p.shape, generator=g) * 0.1 for k, p in model.prompt_learner.prompts.items()}
    return model, new


@pytest.mark.parametrize("name", list(LEARNERS))
def test_prompt_tensors_have_stable_names_modality_and_layer(clip_model, name):
    learner = LEARNERS[name](clip_model)
    got = {s.name: (s.modality, s.layer) for s in learner.prompt_specs()}
    assert got == EXPECTED_SPECS[name]
    assert list(learner.specs) == list(learner.prompts)  # one spec per tensor, same order
    # the names are the state-dict keys, so checkpoints and meta artefacts address the same tensors
    assert {k.removeprefix("prompts.") for k in learner.state_dict()} == set(EXPECTED_SPECS[name])


@pytest.mark.parametrize("name", list(LEARNERS))
def test_functional_call_over_the_parameter_dict_equals_the_params_override(clip_model, name):
    model, new = model_and_params(clip_model, name)
    images = torch.randn(2, 3, 32, 32)
    own = {k: p.detach().clone() for k, p in model.prompt_learner.prompts.items()}

    by_override = model(images, params=new)
    swapped = {f"prompt_learner.prompts.{k}": v for k, v in new.items()}
    by_functional_call = functional_call(model, swapped, (images,))
    assert torch.equal(by_override, by_functional_call)
    assert not torch.allclose(by_override, model(images))  # the replacement tensors were used
    for k, p in model.prompt_learner.prompts.items():  # and the learner's own tensors are untouched
        assert torch.equal(p, own[k])

    # Gradients with respect to the replacement tensors agree too (what a meta step differentiates).
    def loss_override(params):
        return model(images, params=params).logsumexp(-1).sum()

    def loss_functional(params):
        out = functional_call(model, {f"prompt_learner.prompts.{k}": v for k, v in params.items()}, (images,))
        return out.logsumexp(-1).sum()

    g1, g2 = grad(loss_override)(new), grad(loss_functional)(new)
    for k in new:
        torch.testing.assert_close(g1[k], g2[k], rtol=1e-5, atol=1e-7)
        assert g1[k].abs().sum() > 0, f"{k} gets no gradient"


def test_partial_override_replaces_only_the_named_tensors(clip_model):
    model, new = model_and_params(clip_model, "IVLP")
    images = torch.randn(2, 3, 32, 32)
    only_vision = {k: v for k, v in new.items() if k.startswith("vision")}
    full = {**{k: p.detach() for k, p in model.prompt_learner.prompts.items()}, **only_vision}
    assert torch.equal(model(images, params=only_vision), model(images, params=full))
    # the text side does not depend on visual prompts
    assert torch.equal(model.encode_text(only_vision), model.encode_text())


def test_unknown_prompt_name_is_a_clear_error(clip_model):
    model, _ = model_and_params(clip_model, "CoOp")
    with pytest.raises(KeyError, match="vision_ctx"):
        model(torch.randn(1, 3, 32, 32), params={"vision_ctx": torch.zeros(2, 64)})
