"""Today's code replays the recorded iteration of ProMetaR (reference and paper mode) and GRAM.

The recording (tests/golden/iterations.pt) holds losses, every gamma, the gradients each
optimizer step receives and the tensors after Step A and Step B; tests/golden_iteration.py says
what is recorded, the tolerance, and how to regenerate it (only on purpose).
"""
import pytest
import torch

from golden_iteration import CASES, GOLDEN, deviations, record

pytestmark = pytest.mark.usefixtures("one_thread")  # one intra-op thread: the order of float sums is fixed


@pytest.fixture(scope="module")
def golden() -> dict:
    return torch.load(GOLDEN, weights_only=True)


@pytest.mark.parametrize("case", CASES)
def test_iteration_matches_the_recording(golden, synthetic_root, tmp_path, case):
    want = golden[case]
    got = record(case, str(synthetic_root), str(tmp_path))
    assert sorted(got) == sorted(want), "the iteration records other tensors than the golden file"
    worst = deviations(got, want)
    bad = [f"{key}: {ratio:.3g} x tolerance" for ratio, key in worst if not ratio <= 1.0]
    assert not bad, f"{len(bad)} of {len(want)} recorded tensors differ:\n" + "\n".join(bad[:10])
    assert any("step_b" in key for key in want) or case == "gram"  # ProMetaR's Step B ran
