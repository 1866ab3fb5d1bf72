"""CLIP from MODEL.BACKBONE.PATH: TorchScript archives (OpenAI's format) and state dicts load exactly."""
import clip
import pytest
import torch

from metaprompt.clip import MissingWeightsError, WeightsFileError, build_tiny_clip, load_clip

# OpenAI's archives carry these as extra entries next to the weights; clip's build_model drops them.
OPENAI_METADATA = ("input_resolution", "context_length", "vocab_size")


@pytest.fixture(scope="module")
def original():
    model = build_tiny_clip(seed=5)  # not the registered tiny-vit weights (seed 0)
    with torch.no_grad():  # make every tensor non-default, fp32 with bits fp16 cannot hold
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 1e-3)
    return model


@pytest.fixture(scope="module")
def inputs():
    gen = torch.Generator().manual_seed(0)
    return torch.randn(3, 3, 32, 32, generator=gen), clip.tokenize(["a photo of a dog.", "a red circle.", "x"])


def outputs(model, inputs):
    images, text = inputs
    with torch.no_grad():
        return model.encode_image(images), model.encode_text(text), model(images, text)[0]


def assert_identical(model, original, inputs):
    assert model.dtype == torch.float32
    assert not model.training and not any(p.requires_grad for p in model.parameters())
    for got, expected in zip(outputs(model, inputs), outputs(original, inputs)):
        assert torch.equal(got, expected)


def test_plain_state_dict(tmp_path, original, inputs):
    path = tmp_path / "clip_state_dict.pt"
    torch.save(original.state_dict(), path)
    assert_identical(load_clip("ViT-B/16", str(path)), original, inputs)


def test_checkpoint_dict_with_state_dict_entry(tmp_path, original, inputs):
    path = tmp_path / "clip_ckpt.pth"
    torch.save({"state_dict": original.state_dict(), "epoch": 3}, path)
    assert_identical(load_clip("ViT-B/16", str(path)), original, inputs)


def test_torchscript_archive_like_openai(tmp_path, original, inputs):
    model = build_tiny_clip(seed=5)
    model.load_state_dict(original.state_dict())
    for key, value in zip(OPENAI_METADATA, (32, 77, 49408)):
        if hasattr(model, key):
            delattr(model, key)  # a plain attribute of clip's CLIP; a tensor in OpenAI's archives
        model.register_buffer(key, torch.tensor(value))
    traced = torch.jit.trace(model, inputs, check_trace=False)
    path = tmp_path / "ViT-tiny.pt"
    torch.jit.save(traced, str(path))
    archived = torch.jit.load(str(path)).state_dict()
    assert set(archived) == set(original.state_dict()) | set(OPENAI_METADATA)

    assert_identical(load_clip("ViT-B/16", str(path)), original, inputs)


def test_fp16_weights_load_as_fp32_copies(tmp_path, original, inputs):
    # OpenAI's released weights are fp16; the model runs in fp32 with exactly those values.
    path = tmp_path / "half.pt"
    torch.save({k: v.half() if v.is_floating_point() else v for k, v in original.state_dict().items()}, path)
    loaded = load_clip("ViT-B/16", str(path))
    for key, value in loaded.state_dict().items():
        assert value.dtype == torch.float32
        assert torch.equal(value, original.state_dict()[key].half().float()), key


def test_file_that_is_not_a_checkpoint(tmp_path):
    path = tmp_path / "notes.pt"
    path.write_text("these are not weights\n")
    with pytest.raises(WeightsFileError, match="neither a TorchScript CLIP archive nor a state dict"):
        load_clip("ViT-B/16", str(path))


def test_truncated_checkpoint(tmp_path, original):
    path = tmp_path / "cut.pt"
    torch.save(original.state_dict(), path)
    path.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(WeightsFileError, match="truncated"):
        load_clip("ViT-B/16", str(path))


def test_torch_file_without_clip_weights(tmp_path):
    path = tmp_path / "other.pt"
    torch.save({"weight": torch.zeros(3)}, path)
    with pytest.raises(WeightsFileError, match="visual.conv1.weight"):
        load_clip("ViT-B/16", str(path))


def test_incomplete_clip_state_dict(tmp_path, original):
    state = dict(original.state_dict())
    del state["ln_final.weight"]
    path = tmp_path / "partial.pt"
    torch.save(state, path)
    with pytest.raises(WeightsFileError, match="do not form a CLIP model"):
        load_clip("ViT-B/16", str(path))


def test_missing_file_names_the_expected_path(tmp_path):
    with pytest.raises(MissingWeightsError, match="never downloads") as info:
        load_clip("ViT-B/16", str(tmp_path / "nowhere.pt"))
    assert str(tmp_path / "nowhere.pt") in str(info.value)


def test_unknown_backbone_name():
    with pytest.raises(MissingWeightsError, match="Unknown backbone 'ViT-Z/99'.*tiny-vit"):
        load_clip("ViT-Z/99")
