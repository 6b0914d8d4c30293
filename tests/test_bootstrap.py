"""Paired bootstrap intervals: centred on the observed gain, wide for noise, excluding 0 for a real gain."""

import pytest
import torch

from promptbank.experiments.stats import paired_gain


def test_a_clear_gain_excludes_zero_and_no_gain_includes_it():
    generator = torch.Generator().manual_seed(0)
    base = (torch.rand(5, 400, generator=generator) < 0.6).float()
    better = base.clone()
    better[:, :60] = 1.0  # 60 of 400 examples fixed in every seed: a gain of about 0.06
    interval = paired_gain(better, base, resamples=500)
    assert interval.mean == pytest.approx((better - base).mean().item())
    assert 0 < interval.low < interval.mean < interval.high
    noise = (torch.rand(5, 400, generator=generator) < 0.6).float()
    same = paired_gain(noise, base, resamples=500)
    assert same.low < 0 < same.high


def test_identical_runs_give_a_zero_width_interval_and_shapes_must_match():
    runs = (torch.rand(3, 50) < 0.5).float()
    assert paired_gain(runs, runs, resamples=200).as_dict() == {"mean": 0.0, "low": 0.0, "high": 0.0}
    with pytest.raises(ValueError):
        paired_gain(runs, runs[:, :10])


def test_the_interval_is_reproducible_from_its_seed():
    a, b = (torch.rand(5, 100) < 0.7).float(), (torch.rand(5, 100) < 0.6).float()
    assert paired_gain(a, b, seed=3) == paired_gain(a, b, seed=3)
