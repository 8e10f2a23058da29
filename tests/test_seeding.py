"""synthgen/seeding.py: every purpose and index is its own stream, and every seeded draw goes through it."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import numpy as np
import pytest

from synthgen import seeding
from synthgen.errors import SynthgenError
from tests.conftest import tiny_overrides
from tests.hardening_helpers import assert_one_line_error, run_cli

# Seeds around the word boundaries: a seed of 2**32 + 5 must not read as (5, 1).
SEEDS = (0, 1, 2, 5, 17, 2**32 - 1, 2**32, 2**32 + 5, 2**63 + 2, 2**64 - 1)
# Indexes per word: small values (chunks, rounds, epochs, ranks, batches) and the top of the range.
INDEX = (0, 1, 2, 3, 11, 17, 2**32 - 1)


def all_streams():
    for purpose in seeding.PURPOSES:
        for seed in SEEDS:
            for index in itertools.product(INDEX, repeat=len(purpose.index)):
                yield purpose, seed, index


def test_purposes_have_distinct_ids_and_names():
    assert len({p.id for p in seeding.PURPOSES}) == len(seeding.PURPOSES)
    assert len({p.name for p in seeding.PURPOSES}) == len(seeding.PURPOSES)
    assert len(seeding.PURPOSES) >= 19  # every constant of the module docstring's table


def test_no_two_streams_are_the_same():
    """Over every purpose, seed and index above: distinct SeedSequence states, distinct first
    numpy draws and distinct torch seeds (the old code gave rebalancing and chunk 2 one stream)."""
    states, draws, torch_seeds = {}, set(), set()
    for purpose, seed, index in all_streams():
        key = (purpose.name, seed, index)
        state = tuple(seeding.seed_sequence(purpose, seed, *index).generate_state(4))
        assert state not in states, f"{key} repeats {states.get(state)}"
        states[state] = key
        draws.add(int(seeding.numpy_rng(purpose, seed, *index).integers(2**63)))
        torch_seeds.add(seeding.torch_seed(purpose, seed, *index))
    assert len(draws) == len(torch_seeds) == len(states)


def test_a_stream_is_the_same_every_time_and_on_every_device_kind():
    import torch

    a = seeding.torch_generator(seeding.MODEL_DRAW, 3, 7)
    b = seeding.torch_generator(seeding.MODEL_DRAW, 3, 7, device=torch.device("cpu"))
    assert torch.equal(torch.rand(5, generator=a), torch.rand(5, generator=b))
    x = seeding.numpy_rng(seeding.DECODE, 3, 7).random(5)
    assert np.array_equal(x, seeding.numpy_rng(seeding.DECODE, 3, 7).random(5))
    assert not np.array_equal(x, seeding.numpy_rng(seeding.DECODE, 3, 8).random(5))


def test_index_shape_is_fixed_per_purpose():
    """A missing or extra index word would make [.., 0] and [..] one stream (SeedSequence pads with zeros)."""
    with pytest.raises(TypeError, match="chunk"):
        seeding.numpy_rng(seeding.DECODE, 0)
    with pytest.raises(TypeError, match="rebalance"):
        seeding.numpy_rng(seeding.REBALANCE, 0, 0)
    with pytest.raises(ValueError, match="2\\*\\*32"):
        seeding.numpy_rng(seeding.DECODE, 0, 2**32)


@pytest.mark.parametrize("seed", [-1, 2**64, 1.5, True, "7"])
def test_a_bad_seed_is_one_line(seed):
    with pytest.raises(SynthgenError, match="seed=") as e:
        seeding.numpy_rng(seeding.REBALANCE, seed)
    assert "\n" not in str(e.value)


def test_a_negative_seed_on_the_command_line_is_refused_before_anything_is_written(tmp_path):
    proc = run_cli("prepare", *tiny_overrides(tmp_path, "seed=-1"))
    assert_one_line_error(proc, "seed=-1")
    assert not (tmp_path / "out").exists()


# Seeded draws that are allowed outside seeding.py: constants that define data (module docstring).
ALLOWED = {
    ("copies.py", "np.random.default_rng(_WEIGHTS_SEED)"),
    ("image_sources.py", "np.random.default_rng(MNIST5K_SEED)"),
    ("evaluate/image_classifier.py", "torch.default_generator.manual_seed(settings.seed)"),
}


def test_every_seeded_draw_goes_through_seeding():
    root = Path(seeding.__file__).parent
    found = set()
    for path in root.rglob("*.py"):
        rel = path.relative_to(root).as_posix()
        if rel == "seeding.py":
            continue
        for line in path.read_text().splitlines():
            code = line.split("#")[0]
            for m in re.finditer(r"[\w.]*(SeedSequence|default_rng|manual_seed|seed_everything)\([^)]*\)", code):
                found.add((rel, m.group(0)))
    found.discard(("pipeline.py", "pl.seed_everything(cfg.seed, workers=True, verbose=False)"))
    assert found == ALLOWED
