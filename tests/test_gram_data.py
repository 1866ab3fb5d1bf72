"""GRAM's data side: corpus layouts, fingerprints, k-means, the two-level hierarchy, episodes."""
import csv
import io
import os
import shutil
import tarfile

import pytest
import torch
import torch.nn.functional as F
from torchvision.transforms.functional import to_tensor

from metaprompt.meta.gram import synthetic_corpus
from metaprompt.meta.gram.clustering import build_hierarchy, kmeans
from metaprompt.meta.gram.corpus import CorpusError, load_image, read_corpus
from metaprompt.meta.gram.episodes import EpisodeError, EpisodeSampler


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("gram") / "corpus")
    synthetic_corpus.generate(out, n_pairs=60, seed=0, shards=2)
    return out


def test_csv_and_tar_shards_hold_the_same_pairs(corpus_dir):
    table = read_corpus(os.path.join(corpus_dir, "captions.csv"))
    shards = read_corpus(os.path.join(corpus_dir, "shards"))
    assert len(table) == len(shards) == 60
    assert table.captions == shards.captions
    # A shard member is read by its byte range: same picture (JPEG vs PNG, so nearly equal pixels).
    a, b = (to_tensor(load_image(c.records[7])) for c in (table, shards))
    assert a.shape == b.shape == (3, 48, 48)
    assert (a - b).abs().mean() < 0.02


def test_shard_entries_without_caption_or_image_are_skipped(tmp_path, corpus_dir, capsys):
    src = os.path.join(corpus_dir, "shards", "00000.tar")
    dst = tmp_path / "00000.tar"
    with tarfile.open(src) as tin, tarfile.open(dst, "w") as tout:
        members = [m for m in tin if not m.name.endswith("0003.txt") and not m.name.endswith("0005.jpg")]
        for m in members:
            tout.addfile(m, io.BytesIO(tin.extractfile(m).read()))
    corpus = read_corpus(str(tmp_path))
    assert len(corpus) == 30 - 2
    assert "skipped 2 shard entries" in capsys.readouterr().out


def test_bad_tables_give_one_clear_error(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("url,alt\nx.png,a cat\n")
    with pytest.raises(CorpusError, match="no image column"):
        read_corpus(str(bad))
    missing = tmp_path / "missing.tsv"
    missing.write_text("image_path\tcaption\nnope.png\ta cat\n")
    with pytest.raises(CorpusError, match="1 image files do not exist"):
        read_corpus(str(missing))
    with pytest.raises(CorpusError, match="does not exist"):
        read_corpus(str(tmp_path / "absent"))


def test_fingerprint_follows_content_not_location(tmp_path, corpus_dir):
    copy = tmp_path / "copy"
    shutil.copytree(corpus_dir, copy)
    table = os.path.join(copy, "captions.csv")
    original = read_corpus(os.path.join(corpus_dir, "captions.csv")).fingerprint()
    assert read_corpus(table).fingerprint() == original  # moved, same content
    with open(os.path.join(copy, "images", "00004.png"), "ab") as f:
        f.write(b"\0")  # one image byte more
    assert read_corpus(table).fingerprint() != original
    rows = list(csv.reader(open(table)))
    rows[3][1] = rows[3][1] + " indeed"
    csv.writer(open(table, "w", newline="")).writerows(rows)
    stat_before = read_corpus(os.path.join(corpus_dir, "captions.csv")).fingerprint("stat")
    assert read_corpus(table).fingerprint("stat") != stat_before


def test_kmeans_recovers_separated_blobs_and_is_seeded():
    gen = torch.Generator().manual_seed(0)
    centers = torch.tensor([[5.0, 0.0], [-5.0, 0.0], [0.0, 5.0]])
    truth = torch.arange(3).repeat_interleave(20)
    x = centers[truth] + 0.3 * torch.randn(60, 2, generator=gen)
    c1, labels = kmeans(x, 3, seed=7)
    c2, labels2 = kmeans(x, 3, seed=7)
    assert torch.equal(labels, labels2) and torch.equal(c1, c2)
    # Same partition as the truth, up to renaming the clusters.
    mapping = {int(t): int(labels[truth == t][0]) for t in range(3)}
    assert len(set(mapping.values())) == 3
    assert all(int(labels[i]) == mapping[int(truth[i])] for i in range(60))


def test_kmeans_keeps_every_cluster_in_use():
    x = torch.tensor([[0.0], [0.0], [0.0], [10.0]])  # duplicates: k-means++ may pick a point twice
    _, labels = kmeans(x, 3, seed=0)
    assert sorted(torch.bincount(labels, minlength=3).tolist())[0] >= 1


def test_hierarchy_names_are_central_member_captions_and_domains_split_images():
    gen = torch.Generator().manual_seed(0)
    # Two caption concepts; inside each, two visual styles.
    text = torch.cat([torch.tensor([1.0, 0, 0, 0]) + 0.05 * torch.randn(20, 4, generator=gen),
                      torch.tensor([0, 1.0, 0, 0]) + 0.05 * torch.randn(20, 4, generator=gen)])
    style = torch.arange(40) % 2
    image = torch.stack([torch.tensor([0, 0, 1.0, 0]), torch.tensor([0, 0, 0, 1.0])])[style] + 0.05 * torch.randn(40, 4, generator=gen)
    captions = [f"caption {i}" for i in range(40)]
    h = build_hierarchy(image, text, captions, k1=2, k2=2, seed=0)
    concept = (torch.arange(40) >= 20).long()
    for c in range(2):
        members = h.members(c)
        assert len(set(concept[members].tolist())) == 1  # a pseudo-class is one caption concept
        assert h.names[c] in [captions[i] for i in members]
        centroid = F.normalize(F.normalize(text[members], dim=-1).mean(0), dim=0)
        sims = F.normalize(text[members], dim=-1) @ centroid
        assert h.names[c] == captions[members[sims.argmax()]]
        for d in range(2):  # a domain is one visual style
            assert len(set(style[h.members(c, d)].tolist())) == 1


def test_episodes_take_support_and_query_from_different_domains():
    class_of = torch.arange(4).repeat_interleave(12)
    domain_of = (torch.arange(48) // 4) % 3
    from metaprompt.meta.gram.clustering import Hierarchy

    h = Hierarchy(class_of, domain_of, ["a", "b", "c", "a"])  # classes 0 and 3 share a name
    sampler = EpisodeSampler(h, n_way=3, k_shot=2, n_query=3, seed=0)
    for _ in range(20):
        ep = sampler.sample()
        assert len(set(ep.names)) == 3
        assert ep.support_labels.tolist() == [0, 0, 1, 1, 2, 2]
        assert ep.query_labels.tolist() == [0] * 3 + [1] * 3 + [2] * 3
        for label in range(3):
            s, q = ep.support[ep.support_labels == label], ep.query[ep.query_labels == label]
            assert len(set(class_of[torch.cat([s, q])].tolist())) == 1
            assert h.names[int(class_of[s[0]])] == ep.names[label]
            assert len(set(domain_of[s].tolist())) == 1 and len(set(domain_of[q].tolist())) == 1
            assert domain_of[s[0]] != domain_of[q[0]]
    state = sampler.state_dict()
    a = sampler.sample()
    sampler.load_state_dict(state)
    b = sampler.sample()
    assert torch.equal(a.support, b.support) and torch.equal(a.query, b.query)


def test_too_few_usable_classes_say_what_to_change():
    from metaprompt.meta.gram.clustering import Hierarchy

    h = Hierarchy(torch.zeros(10, dtype=torch.long), torch.zeros(10, dtype=torch.long), ["a"])
    with pytest.raises(EpisodeError, match="two domains"):
        EpisodeSampler(h, n_way=2, k_shot=1, n_query=1)


def test_regulator_that_selects_no_tensor_is_a_config_error():
    from metaprompt.config import ConfigError
    from metaprompt.learners.base import PromptSpec
    from metaprompt.meta.gram.regulator import Regulator, RegulatorConfig

    with pytest.raises(ConfigError, match="selects none"):
        Regulator(RegulatorConfig(modalities=("text",)), {"vision_ctx": (4, 64)},
                  {"vision_ctx": PromptSpec("vision_ctx", "vision", 0)})
    with pytest.raises(ConfigError, match="TASK_COND needs KIND gate"):
        RegulatorConfig(kind="lowrank", task_cond=True)


def test_long_captions_are_cut_to_fit_the_text_context():
    import clip

    from metaprompt.meta.gram.metatrain import short_name

    long = " ".join(["a very long web caption with many words"] * 20)
    name = short_name(long, 32)
    assert long.startswith(name) and len(name) < len(long)
    clip.tokenize(f"{' '.join(['X'] * 16)} {name}.")  # raises if the prompt exceeds 77 tokens
    assert short_name("a red circle", 32) == "a red circle"
