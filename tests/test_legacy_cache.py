"""Dassl's pickled caches are read without executing them; anything but Dassl's Datum is refused."""
from __future__ import annotations

import builtins
import json
import os
import pickle
import random
import sys
import types

import pytest
from dataset_layouts import LAYOUTS
from test_datasets import build, draw, groups, triples

from metaprompt.datasets.base import DatasetFileError, DatasetNotFoundError
from metaprompt.datasets.legacy_cache import UnsafeCacheError, load_dassl_pickle, remap_path

DASSL_MODULE = "dassl.data.datasets.base_dataset"


@pytest.fixture
def dassl_datum(monkeypatch):
    """A stand-in for Dassl's ``Datum`` under its real module path, to write pickles exactly as Dassl
    does (``pickle.dump(..., HIGHEST_PROTOCOL)`` of objects with ``_impath``, ``_label``, ...)."""

    class Datum:
        def __init__(self, impath="", label=0, domain=0, classname=""):
            self._impath, self._label, self._domain, self._classname = impath, label, domain, classname

    Datum.__module__, Datum.__qualname__ = DASSL_MODULE, "Datum"
    module = types.ModuleType(DASSL_MODULE)
    module.Datum = Datum
    for name in ("dassl", "dassl.data", "dassl.data.datasets"):
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    monkeypatch.setitem(sys.modules, DASSL_MODULE, module)
    return Datum


def dump_dassl(path, lists: dict, Datum, monkeypatch=None) -> None:
    """Write ``{key: [Datum, ...]}`` as Dassl would; with ``monkeypatch``, then remove the stand-in
    (reading needs no Dassl)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        pickle.dump({k: [Datum(p, y, 0, c) for p, y, c in v] for k, v in lists.items()}, f,
                    protocol=pickle.HIGHEST_PROTOCOL)
    if monkeypatch is not None:
        monkeypatch.undo()
        assert "dassl" not in sys.modules


def moved(items, old_root, new_root) -> list[tuple]:
    return [(p.replace(str(old_root), str(new_root), 1), y, c) for p, y, c in items]


def test_dassl_fewshot_pickle_is_read_and_remapped_after_the_folder_moved(tmp_path, dassl_datum, monkeypatch):
    before, after = tmp_path / "before", tmp_path / "after"
    LAYOUTS["OxfordPets"](str(before))
    full = build("OxfordPets", before)  # writes the split file
    train, val = triples(full.train_x), triples(full.val)
    # a draw that ours would not produce: the last two items of each class
    chosen = {"train": [t for group in groups(train) for t in group[-2:]], "val": val[:3]}
    dump_dassl(before / "oxford_pets" / "split_fewshot" / "shot_2-seed_9.pkl", chosen, dassl_datum, monkeypatch)
    os.rename(before, after)

    rng = random.Random(9)
    moved_train, moved_val = moved(train, before, after), moved(val, before, after)
    draw(moved_train, 2, rng)
    draw(moved_val, 2, rng)
    ds = build("OxfordPets", after, shots=2, seed=9)
    assert triples(ds.train_x) == moved(chosen["train"], before, after)
    assert triples(ds.val) == moved(chosen["val"], before, after)
    assert random.getstate() == rng.getstate()  # the stream is consumed as without a cache
    assert not os.path.exists(after / "oxford_pets" / "split_fewshot" / "shot_2-seed_9.json")


def test_our_json_cache_wins_over_a_dassl_pickle(tmp_path, dassl_datum, monkeypatch):
    LAYOUTS["OxfordPets"](str(tmp_path))
    first = build("OxfordPets", tmp_path, shots=2, seed=3)  # writes shot_2-seed_3.json
    dump_dassl(tmp_path / "oxford_pets" / "split_fewshot" / "shot_2-seed_3.pkl",
               {"train": triples(first.test)[:2], "val": []}, dassl_datum, monkeypatch)
    again = build("OxfordPets", tmp_path, shots=2, seed=3)
    assert triples(again.train_x) == triples(first.train_x)


def test_imagenet_reads_dassl_preprocessed_and_train_only_fewshot_pickles(tmp_path, dassl_datum, monkeypatch):
    truth = LAYOUTS["ImageNet"](str(tmp_path / "old"))
    d = tmp_path / "old" / "imagenet"
    dump_dassl(d / "preprocessed.pkl", {k: truth.fixed[k] for k in ("train", "test")}, dassl_datum)
    shots = truth.fixed["train"][::3]
    dump_dassl(d / "split_fewshot" / "shot_1-seed_2.pkl", {"train": shots}, dassl_datum, monkeypatch)
    os.rename(tmp_path / "old", tmp_path / "new")

    from metaprompt.datasets.imagenet import ImageNet

    def no_listing(self):
        raise AssertionError("the Dassl lists should be used")

    monkeypatch.setattr(ImageNet, "list_folders", no_listing)
    ds = build("ImageNet", tmp_path / "new", shots=1, seed=2)
    assert triples(ds.train_x) == moved(shots, tmp_path / "old", tmp_path / "new")
    assert triples(ds.test) == moved(truth.fixed["test"], tmp_path / "old", tmp_path / "new")
    assert not os.path.exists(tmp_path / "new" / "imagenet" / "preprocessed.json")


class SystemCall:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


class OpenFile:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return builtins.open, (str(self.marker), "w")


PAYLOADS = {
    "os.system": lambda marker, Datum: SystemCall(marker),
    "builtins.open": lambda marker, Datum: OpenFile(marker),
    "inside a cache": lambda marker, Datum: {"train": [Datum("a.jpg", 0, 0, "x"), SystemCall(marker)], "val": []},
    "inside a Datum": lambda marker, Datum: {"train": [Datum(OpenFile(marker), 0, 0, "x")]},
}


@pytest.mark.parametrize("payload", list(PAYLOADS))
def test_malicious_pickle_is_refused_and_not_executed(tmp_path, payload, dassl_datum):
    marker = tmp_path / "executed"
    data = pickle.dumps(PAYLOADS[payload](marker, dassl_datum), protocol=pickle.HIGHEST_PROTOCOL)
    path = tmp_path / "shot_1-seed_1.pkl"
    path.write_bytes(data)
    with pytest.raises(UnsafeCacheError) as err:
        load_dassl_pickle(str(path))
    assert not marker.exists()
    assert "Nothing in it was executed" in str(err.value) and str(path) in str(err.value)
    pickle.loads(data)  # the control: a plain unpickler does run it
    assert marker.exists()


def test_allowed_datum_cannot_be_called_with_arguments(tmp_path, dassl_datum):
    class CallDatum:
        def __reduce__(self):
            return dassl_datum, ("x.jpg", 0)

    path = tmp_path / "c.pkl"
    path.write_bytes(pickle.dumps({"train": [CallDatum()]}, protocol=pickle.HIGHEST_PROTOCOL))
    with pytest.raises(DatasetFileError, match="not a readable Dassl cache"):
        load_dassl_pickle(str(path))


def test_malicious_fewshot_cache_stops_the_dataset_with_a_clear_error(tmp_path):
    LAYOUTS["OxfordPets"](str(tmp_path))
    build("OxfordPets", tmp_path)
    marker = tmp_path / "executed"
    cache = tmp_path / "oxford_pets" / "split_fewshot" / "shot_4-seed_1.pkl"
    os.makedirs(cache.parent)
    cache.write_bytes(pickle.dumps(SystemCall(marker)))
    with pytest.raises(DatasetNotFoundError, match=r"Refusing to load .*shot_4-seed_1.pkl: it references posix.system"):
        build("OxfordPets", tmp_path, shots=4, seed=1)
    assert not marker.exists()


def test_truncated_or_foreign_pickles_are_reported(tmp_path, dassl_datum):
    good = pickle.dumps({"train": [dassl_datum("a.jpg", 0, 0, "x")]}, protocol=pickle.HIGHEST_PROTOCOL)
    for name, data in {"truncated": good[:-5], "list": pickle.dumps([1, 2]), "text": b"not a pickle"}.items():
        path = tmp_path / f"{name}.pkl"
        path.write_bytes(data)
        with pytest.raises(DatasetFileError, match=str(path)):
            load_dassl_pickle(str(path))


def test_stale_paths_that_cannot_be_mapped_are_reported(tmp_path, dassl_datum, monkeypatch):
    LAYOUTS["OxfordPets"](str(tmp_path))
    build("OxfordPets", tmp_path)
    dump_dassl(tmp_path / "oxford_pets" / "split_fewshot" / "shot_1-seed_1.pkl",
               {"train": [("/elsewhere/pets/jpgs/x.jpg", 0, "abyssinian")], "val": []}, dassl_datum, monkeypatch)
    with pytest.raises(DatasetFileError, match="cannot be mapped"):
        build("OxfordPets", tmp_path, shots=1, seed=1)


def test_remap_path():
    prefix = os.path.join(os.sep, "data", "new", "oxford_pets", "images")
    assert remap_path(os.path.join(prefix, "a.jpg"), prefix) == os.path.join(prefix, "a.jpg")
    assert remap_path("/home/u/DATA/oxford_pets/images/a.jpg", prefix) == os.path.join(prefix, "a.jpg")
    assert remap_path("C:\\data\\oxford_pets\\images\\b\\a.jpg", prefix) == os.path.join(prefix, "b", "a.jpg")
    assert remap_path("/x/images/oxford_pets/images/a.jpg", prefix) == os.path.join(prefix, "a.jpg")
    assert remap_path("/x/pets_copy/images/a.jpg", prefix) == os.path.join(prefix, "a.jpg")  # renamed folder
    assert remap_path("/x/pets/jpg/a.jpg", prefix) is None
    cars = os.path.join(os.sep, "data", "stanford_cars")
    assert remap_path("/old/stanford_cars/cars_train/00001.jpg", cars) == os.path.join(cars, "cars_train", "00001.jpg")


def test_fewshot_json_written_by_us_is_plain_json(tmp_path):
    LAYOUTS["Food101"](str(tmp_path))
    build("Food101", tmp_path, shots=2, seed=1)
    with open(tmp_path / "food-101" / "split_fewshot" / "shot_2-seed_1.json") as f:
        cache = json.load(f)
    assert set(cache) == {"train", "val"}
    assert all(not os.path.isabs(p) for p, _, _ in cache["train"] + cache["val"])
