"""Without prompts, the prompted encoders are CLIP: exactly ``encode_image`` / ``encode_text``.

Images exactly (``torch.equal``): the prompted image encoder runs CLIP's own modules in CLIP's
order, so any difference is a bug. Text to fp32 rounding (:func:`assert_same_text`): the prompted
text encoder stops at the last end-of-text token where CLIP runs all 77 positions; the causal mask
makes that the same function, but matrix products of another length round differently (measured:
1.2e-6 on features of size 2.3). A misplaced token moves features by orders of magnitude more.
"""
from __future__ import annotations

import clip
import pytest
import torch

from metaprompt.clip import PromptedImageEncoder, PromptedTextEncoder, build_tiny_clip
from metaprompt.learners import (CoOpLearner, HandCraftedPrompts, IVLPLearner, MaPLeLearner, PromptedCLIP,
                                 VPTLearner)

def assert_same_text(got: torch.Tensor, clip_features: torch.Tensor) -> None:
    torch.testing.assert_close(got, clip_features, rtol=1e-5, atol=1e-5)


CLASSNAMES = ["red circle", "blue_square", "green triangle", "a very long class name with many words"]


@pytest.fixture(scope="module")
def clip_model():
    return build_tiny_clip(transformer_layers=4, vision_layers=4, transformer_width=48)


@pytest.fixture(scope="module")
def images():
    return torch.randn(3, 3, 32, 32, generator=torch.Generator().manual_seed(0))


def hand_tokens(template: str = "a photo of a {}.") -> torch.Tensor:
    return clip.tokenize([template.format(c.replace("_", " ")) for c in CLASSNAMES])


@torch.no_grad()
def test_encoders_without_prompts_are_clip(clip_model, images):
    tokens = hand_tokens()
    text = PromptedTextEncoder(clip_model)(clip_model.token_embedding(tokens), tokens.argmax(-1))
    assert_same_text(text, clip_model.encode_text(tokens))
    assert torch.equal(PromptedImageEncoder(clip_model)(images), clip_model.encode_image(images))


PROMPT_FREE = {  # learners configured with prompt depth 0 in a tower (or no prompt at all)
    "IVLP depth 0/0": lambda m: IVLPLearner(m.token_embedding, 64, depth_text=0, depth_vision=0),
    "VPT depth 0": lambda m: VPTLearner(m.token_embedding, 64, depth_vision=0),
    "ZeroshotCLIP": lambda m: HandCraftedPrompts(),
}


@pytest.mark.parametrize("name", list(PROMPT_FREE))
@torch.no_grad()
def test_prompt_depth_zero_is_clip_with_the_hand_prompt(clip_model, images, name):
    learner = PROMPT_FREE[name](clip_model)
    assert len(learner.prompts) == 0
    model = PromptedCLIP(clip_model, learner, CLASSNAMES)
    assert_same_text(model.encode_text(), clip_model.encode_text(hand_tokens()))
    assert torch.equal(model.encode_image(images), clip_model.encode_image(images))


@pytest.mark.parametrize("name", ["IVLP text depth 0", "VPT"])
@torch.no_grad()
def test_text_tower_without_prompts_is_clip(clip_model, name):
    learner = (IVLPLearner(clip_model.token_embedding, 64, depth_text=0, depth_vision=2) if name != "VPT"
               else VPTLearner(clip_model.token_embedding, 64, depth_vision=2))
    model = PromptedCLIP(clip_model, learner, CLASSNAMES)
    assert_same_text(model.encode_text(), clip_model.encode_text(hand_tokens()))


@torch.no_grad()
def test_vision_tower_without_prompts_is_clip(clip_model, images):
    for learner in (IVLPLearner(clip_model.token_embedding, 64, depth_text=2, depth_vision=0),
                    CoOpLearner(clip_model.token_embedding, len(CLASSNAMES))):
        model = PromptedCLIP(clip_model, learner, CLASSNAMES)
        assert torch.equal(model.encode_image(images), clip_model.encode_image(images))


INIT_FROM_PHRASE = {  # context initialised from "a photo of a" and no deep prompt: the hand prompt itself
    "CoOp": lambda m: CoOpLearner(m.token_embedding, len(CLASSNAMES), ctx_init="a photo of a"),
    "CoOp CSC": lambda m: CoOpLearner(m.token_embedding, len(CLASSNAMES), ctx_init="a photo of a", csc=True),
    "IVLP depth 1": lambda m: IVLPLearner(m.token_embedding, 64, n_ctx_text=4, depth_text=1, depth_vision=0),
    "MaPLe depth 1": lambda m: MaPLeLearner(m.token_embedding, 64, n_ctx=2, depth=1),
}


@pytest.mark.parametrize("name", list(INIT_FROM_PHRASE))
@torch.no_grad()
def test_context_initialised_from_the_phrase_reproduces_the_hand_prompt(clip_model, name):
    model = PromptedCLIP(clip_model, INIT_FROM_PHRASE[name](clip_model), CLASSNAMES)
    assert_same_text(model.encode_text(), clip_model.encode_text(hand_tokens()))


@torch.no_grad()
def test_zero_shot_logits_are_clips_logits(clip_model, images):
    model = PromptedCLIP(clip_model, HandCraftedPrompts("a photo of a {}, a type of shape."), CLASSNAMES)
    logits_per_image, _ = clip_model(images, hand_tokens("a photo of a {}, a type of shape."))
    torch.testing.assert_close(model(images), logits_per_image, rtol=1e-6, atol=1e-5)


def test_a_phrase_shorter_than_the_context_falls_back_to_random_init(clip_model):
    """As the releases do for n_ctx > 4 with "a photo of a": random context, "X" placeholders."""
    learner = IVLPLearner(clip_model.token_embedding, 64, n_ctx_text=6, depth_text=1, depth_vision=0)
    assert learner.text.prompt_prefix() == "X X X X X X"
    PromptedCLIP(clip_model, learner, CLASSNAMES)
    # the class name must survive: the tokens after the context are "{class}."
    name_tokens = clip.tokenize("red circle.")[0, 1:4]
    assert torch.equal(learner.text.tokenized[0, 7:10], name_tokens)


@pytest.mark.parametrize("position", ["front", "middle"])
@torch.no_grad()
def test_coop_class_token_positions_place_the_context_around_the_name(clip_model, position):
    """CoOp's CLASS_TOKEN_POSITION: front = [SOS] class ctx . ; middle = [SOS] ctx/2 class ctx/2 ."""
    learner = CoOpLearner(clip_model.token_embedding, len(CLASSNAMES), n_ctx=4, class_token_position=position)
    model = PromptedCLIP(clip_model, learner, CLASSNAMES)
    ctx = clip_model.token_embedding(clip.tokenize("a photo of a")[0, 1:5])
    ctx_words = ["a", "photo", "of", "a"]
    texts = []
    for c in CLASSNAMES:
        c = c.replace("_", " ")
        texts.append(f"{c} {' '.join(ctx_words)}." if position == "front"
                     else f"{' '.join(ctx_words[:2])} {c} {' '.join(ctx_words[2:])}.")
    # With the context set to the embeddings of "a photo of a", the learner must encode the texts above.
    got = model.encode_text({"text_ctx": ctx})
    assert_same_text(got, clip_model.encode_text(clip.tokenize(texts)))
