"""CoCoOp: the class texts of each image come from the context shifted by the meta-net of that
image's feature. Checked against a hand-built reconstruction through CoOp's learner, plus the
contract that image-conditioned text is never cached or shared across images."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from metaprompt.clip import build_tiny_clip
from metaprompt.learners import CoOpLearner, PromptedCLIP
from metaprompt.learners.cocoop import CoCoOpLearner

CLASSNAMES = ["red circle", "blue square", "green triangle"]


@pytest.fixture(scope="module")
def clip_model():
    return build_tiny_clip()


@pytest.fixture(scope="module")
def cocoop(clip_model):
    torch.manual_seed(0)
    model = PromptedCLIP(clip_model, CoCoOpLearner(clip_model.token_embedding, ctx_init="a photo of a"), CLASSNAMES)
    with torch.no_grad():  # a trained-looking meta-net: its default init barely shifts the context
        for p in model.prompt_learner.prompts.values():
            p.add_(0.3 * torch.randn_like(p))
    return model


IMAGES = torch.randn(3, 3, 32, 32, generator=torch.Generator().manual_seed(1))


def test_logits_equal_a_coop_prompt_per_image_with_the_meta_net_shift(clip_model, cocoop):
    p = cocoop.prompt_learner.prompts
    with torch.no_grad():
        logits = cocoop(IMAGES)
        feats = F.normalize(clip_model.encode_image(IMAGES), dim=-1)  # no visual prompt: CLIP's own features
        shift = torch.relu(feats @ p["meta_net_linear1_weight"].T + p["meta_net_linear1_bias"])
        shift = shift @ p["meta_net_linear2_weight"].T + p["meta_net_linear2_bias"]
        coop = PromptedCLIP(clip_model, CoOpLearner(clip_model.token_embedding, 3, ctx_init="a photo of a"), CLASSNAMES)
        rows = []
        for i in range(len(IMAGES)):
            text = coop.encode_text({"text_ctx": p["text_ctx"] + shift[i]})
            rows.append(clip_model.logit_scale.exp() * feats[i] @ F.normalize(text, dim=-1).T)
    torch.testing.assert_close(logits, torch.stack(rows), rtol=1e-5, atol=1e-5)
    # each image's texts are its own: a batch equals its images one at a time
    with torch.no_grad():
        alone = torch.cat([cocoop(IMAGES[i: i + 1]) for i in range(len(IMAGES))])
    torch.testing.assert_close(logits, alone, rtol=1e-5, atol=1e-5)


def test_text_depends_on_the_image_so_nothing_caches_or_shares_it(cocoop):
    assert cocoop.text_depends_on_image
    with pytest.raises(ValueError, match="class texts depend on the image: pass the batch's image features"):
        cocoop.encode_text()
    with torch.no_grad():
        feats = cocoop.encode_image(IMAGES)
        texts = cocoop.encode_text(None, feats)
        assert texts.shape == (3, len(CLASSNAMES), feats.shape[1])
        assert not torch.allclose(texts[0], texts[1])  # two images, two sets of class texts
        outside = cocoop(IMAGES)
        with cocoop.cached_text_features():  # evaluation's cache: none for CoCoOp
            assert cocoop._text_cache is None
            torch.testing.assert_close(cocoop(IMAGES), outside)


def test_every_cocoop_tensor_gets_a_gradient(cocoop):
    loss = F.cross_entropy(cocoop(IMAGES[:2]), torch.tensor([0, 2]))
    grads = torch.autograd.grad(loss, list(cocoop.prompt_learner.prompts.values()))
    assert all(g.abs().sum() > 0 for g in grads)
