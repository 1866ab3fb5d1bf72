"""Per-epoch learning rates follow Dassl's warm-up + main-schedule sequences (hand-computed here).

The trainer steps the scheduler once at the end of every epoch, so the rate *used in* epoch ``e``
is the optimizer's rate after ``e`` steps. Real Dassl's own sequences are compared in
``test_dassl_runtime.py`` when Dassl is installed.
"""
import io
import math

import pytest
import torch

from metaprompt.config import build_cfg
from metaprompt.runtime import build_lr_scheduler

BASE = 0.002


def optim_cfg(**opts):
    flat = []
    for key, value in opts.items():
        flat += [f"OPTIM.{key}", str(value)]
    return build_cfg(opts=flat).OPTIM


def lr_per_epoch(cfg, epochs=None):
    param = torch.nn.Parameter(torch.zeros(2))
    opt = torch.optim.SGD([param], lr=cfg.LR, momentum=0.9)
    sched = build_lr_scheduler(opt, cfg)
    out = []
    for _ in range(epochs or cfg.MAX_EPOCH):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return out


def cosine(t, t_max, base=BASE):
    return base * (1 + math.cos(math.pi * t / t_max)) / 2


def test_constant_warmup_then_cosine_restarted_from_base_lr():
    # CoOp's recipe: 1 constant warm-up epoch at 1e-5, then cosine over MAX_EPOCH from LR.
    got = lr_per_epoch(optim_cfg(LR=BASE, MAX_EPOCH=5, LR_SCHEDULER="cosine", WARMUP_EPOCH=1,
                                 WARMUP_TYPE="constant", WARMUP_CONS_LR=1e-5))
    expected = [1e-5, BASE, BASE * (1 + math.cos(math.pi / 5)) / 2, BASE * (1 + math.cos(2 * math.pi / 5)) / 2,
                BASE * (1 + math.cos(3 * math.pi / 5)) / 2]
    assert got == pytest.approx(expected, rel=1e-12, abs=0)
    assert expected[2] == pytest.approx(0.0018090170, rel=1e-8)  # cos(pi/5) = 0.809017


def test_linear_warmup_then_cosine():
    got = lr_per_epoch(optim_cfg(LR=BASE, MAX_EPOCH=6, LR_SCHEDULER="cosine", WARMUP_EPOCH=3,
                                 WARMUP_TYPE="linear", WARMUP_MIN_LR=1e-6))
    expected = [1e-6, BASE / 3, 2 * BASE / 3, cosine(0, 6), cosine(1, 6), cosine(2, 6)]
    assert got == pytest.approx(expected, rel=1e-12, abs=0)


def test_no_warmup_is_plain_cosine():
    got = lr_per_epoch(optim_cfg(LR=BASE, MAX_EPOCH=4, LR_SCHEDULER="cosine"))
    assert got == pytest.approx([cosine(t, 4) for t in range(4)], rel=1e-12, abs=0)


def test_warmup_without_recount_starts_from_base_lr_then_follows_main_ratios():
    # Dassl's chained schedulers: LR at epoch W, then LR * main(t) / main(W).
    got = lr_per_epoch(optim_cfg(LR=BASE, MAX_EPOCH=6, LR_SCHEDULER="cosine", WARMUP_EPOCH=2,
                                 WARMUP_TYPE="constant", WARMUP_CONS_LR=1e-5, WARMUP_RECOUNT=False))
    at_w = 1 + math.cos(2 * math.pi / 6)  # = 1.5
    expected = [1e-5, 1e-5, BASE, BASE * (1 + math.cos(3 * math.pi / 6)) / at_w,
                BASE * (1 + math.cos(4 * math.pi / 6)) / at_w, BASE * (1 + math.cos(5 * math.pi / 6)) / at_w]
    assert expected[3:5] == pytest.approx([BASE / 1.5, BASE * 0.5 / 1.5], rel=1e-12)
    assert got == pytest.approx(expected, rel=1e-12, abs=0)


def test_step_schedules():
    got = lr_per_epoch(optim_cfg(LR=0.1, MAX_EPOCH=6, LR_SCHEDULER="single_step", STEPSIZE="(2,)", GAMMA=0.5))
    assert got == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.025, 0.025], rel=1e-12)
    got = lr_per_epoch(optim_cfg(LR=0.1, MAX_EPOCH=5, LR_SCHEDULER="multi_step", STEPSIZE="(1,3)", GAMMA=0.1))
    assert got == pytest.approx([0.1, 0.01, 0.01, 0.001, 0.001], rel=1e-12)


def test_schedule_state_loads_weights_only_and_continues_the_same_sequence():
    cfg = optim_cfg(LR=BASE, MAX_EPOCH=6, LR_SCHEDULER="cosine", WARMUP_EPOCH=1, WARMUP_TYPE="constant")
    full = lr_per_epoch(cfg)

    param = torch.nn.Parameter(torch.zeros(2))
    opt = torch.optim.SGD([param], lr=cfg.LR, momentum=0.9)
    sched = build_lr_scheduler(opt, cfg)
    for _ in range(3):
        opt.step()
        sched.step()
    buf = io.BytesIO()
    torch.save({"optimizer": opt.state_dict(), "scheduler": sched.state_dict()}, buf)
    buf.seek(0)
    state = torch.load(buf, weights_only=True)  # raises if the state pickles any object

    param2 = torch.nn.Parameter(torch.zeros(2))
    opt2 = torch.optim.SGD([param2], lr=cfg.LR, momentum=0.9)
    sched2 = build_lr_scheduler(opt2, cfg)
    opt2.load_state_dict(state["optimizer"])
    sched2.load_state_dict(state["scheduler"])
    rest = []
    for _ in range(3):
        rest.append(opt2.param_groups[0]["lr"])
        opt2.step()
        sched2.step()
    assert rest == full[3:]


@pytest.mark.parametrize("key,value", [("LR_SCHEDULER", "poly"), ("WARMUP_TYPE", "exp")])
def test_unsupported_schedule_names_are_rejected(key, value):
    cfg = optim_cfg(**{key: value, "WARMUP_EPOCH": 1})
    with pytest.raises(ValueError, match=key):
        lr_per_epoch(cfg, epochs=1)
