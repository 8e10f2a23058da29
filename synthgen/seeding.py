"""Every seeded random stream of synthgen, by purpose: one place to read which draws depend on what.

A stream is fixed by (purpose, seed, index) and nothing else (not the process, rank or world size
that runs it), so generation writes the same bytes at any world size. Its numpy SeedSequence
entropy is the uint32 words

    [purpose id, seed % 2**32, seed // 2**32, *index]        seed in [0, 2**64), index words < 2**32

The purpose id comes first and the seed always takes two words, and each purpose has a fixed
index shape, so two different (purpose, seed, index) never give the same words: no stream is
another's (SeedSequence pads short entropy with zeros, so [s, 2] and [s, 2, 0] would be one stream;
the fixed layout rules that out). tests/test_seeding.py checks it.

    purpose          index           kind   what it draws
    generation: the output (fixed by the run's seed, whatever the world size)
    MODEL_DRAW       (chunk,)        torch  the model's samples of one output chunk (models/base.py)
    DECODE           (chunk,)        numpy  the decoder's within-bin values and rare levels of a chunk
    REDRAW_MODEL     (chunk, round)  torch  redrawing rows that copy a training row (writers/table.py)
    REDRAW_DECODE    (chunk, round)  numpy  decoding those redrawn rows
    REBALANCE        ()              numpy  which rows get which level of a rebalanced column
    ENTITY_SIZES     ()              numpy  the rows of each synthetic entity (entities.py)
    ENTITY_HEADS     (chunk,)        torch  each entity's attributes, drawn once (models/base.py)
    ENTITY_MARKS     (chunk,)        numpy  the row of each entity that holds its flag (entities.py)
    PREVIEW          ()              torch  the image sample grid logged during training
    training
    HOLDOUT_SPLIT    ()              numpy  the held-out rows of an in-memory table or image set
    VAL_SPLIT        ()              numpy  the validation rows of the training set (data.py)
    TRAIN_ORDER      ()              torch  the order of training rows in the epochs (data.py)
    SHARD_DEAL       (epoch,)        numpy  blocks of streamed shards dealt to ranks (shards.py)
    SHARD_SHUFFLE    (epoch, rank)   numpy  the shuffle of a rank's rows within its blocks
    DP_ENCODER       ()              numpy  the DP encoder's noise (encoders/dp_stats.py)
    DP_BATCHES       ()              torch  Poisson-sampled DP batches (privacy/training.py)
    DP_RANK_BATCHES  (rank,)         torch  a DDP rank's Poisson draws over its share of the rows
    DP_NOISE         ()              torch  the DP optimiser's gradient noise
    GAN_INDEX_ROWS   (rank,)         torch  the rows a large table's GAN samples conditions from
    CALIBRATION_ROWS ()              torch  the training rows the transformer's head bias is refitted on
    monitoring: seed FIXED, so a figure compares across epochs and runs
    VAL_NOISE        (batch,)        torch  the VAEs' noise for val_loss, per validation batch
    VAL_SAMPLE       ()              torch  the GANs' generated rows or images for val_loss
    evaluation (evaluate.* seed)
    EVAL_SUBSET      ()              numpy  the capped image subsets of the image metrics
    CAS_SELECTION    ()              numpy  the synthetic images the CAS classifier trains on
    CLASSIFIER_ORDER ()              torch  the image classifier's batch order

Not streams, on purpose: pl.seed_everything(seed) in pipeline.train seeds the global RNGs that
weight initialisation, dropout and the training losses' noise draw from; the image classifier's
weight initialisation seeds torch's global generator the same way; streaming.row_hashes is a keyed
hash per row (HOLDOUT_STREAM ...), not a generator; copies._WEIGHTS_SEED (the copy hash's weights)
and image_sources.MNIST5K_SEED (the MNIST-5k split) are constants that define data, not draws.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from synthgen.errors import SynthgenError


@dataclass(frozen=True)
class Purpose:
    id: int  # first entropy word; distinct per purpose
    name: str
    index: tuple = ()  # the names of the index words, e.g. ("chunk", "round")


MODEL_DRAW = Purpose(1, "model draw", ("chunk",))
DECODE = Purpose(2, "decode", ("chunk",))
REDRAW_MODEL = Purpose(3, "copy redraw: model", ("chunk", "round"))
REDRAW_DECODE = Purpose(4, "copy redraw: decode", ("chunk", "round"))
REBALANCE = Purpose(5, "rebalance")
PREVIEW = Purpose(6, "preview")
ENTITY_SIZES = Purpose(7, "entity group sizes")
ENTITY_HEADS = Purpose(8, "entity heads", ("chunk",))
ENTITY_MARKS = Purpose(9, "entity marks", ("chunk",))
HOLDOUT_SPLIT = Purpose(10, "holdout split")
VAL_SPLIT = Purpose(11, "validation split")
TRAIN_ORDER = Purpose(12, "training order")
SHARD_DEAL = Purpose(13, "shard deal", ("epoch",))
SHARD_SHUFFLE = Purpose(14, "shard shuffle", ("epoch", "rank"))
DP_ENCODER = Purpose(15, "dp encoder")
DP_BATCHES = Purpose(16, "dp batches")
DP_NOISE = Purpose(17, "dp noise")
DP_RANK_BATCHES = Purpose(18, "dp batches of a rank", ("rank",))
GAN_INDEX_ROWS = Purpose(19, "gan index rows", ("rank",))
CALIBRATION_ROWS = Purpose(22, "calibration rows")
VAL_NOISE = Purpose(20, "validation noise", ("batch",))
VAL_SAMPLE = Purpose(21, "validation sample")
EVAL_SUBSET = Purpose(30, "evaluation subset")
CAS_SELECTION = Purpose(31, "cas selection")
CLASSIFIER_ORDER = Purpose(32, "classifier order")

PURPOSES = tuple(p for p in globals().values() if isinstance(p, Purpose))
FIXED = 0  # the seed of the monitoring streams (VAL_NOISE, VAL_SAMPLE): the same in every run


def check_seed(seed) -> int:
    """The run's seed as an int; one-line SynthgenError unless it is a whole number in [0, 2**64)."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**64:
        raise SynthgenError(f"seed={seed!r} must be a whole number from 0 to 2**64 - 1")
    return int(seed)


def entropy(purpose: Purpose, seed: int, *index: int) -> list[int]:
    """The uint32 words of the stream's SeedSequence (layout in the module docstring)."""
    if len(index) != len(purpose.index):
        raise TypeError(f"the {purpose.name} stream takes index {purpose.index}, got {index}")
    seed = check_seed(seed)
    words = [int(i) for i in index]
    if any(not 0 <= w < 2**32 for w in words):
        raise ValueError(f"the {purpose.name} stream's index {index} must lie in [0, 2**32)")
    return [purpose.id, seed & 0xFFFFFFFF, seed >> 32, *words]


def seed_sequence(purpose: Purpose, seed: int, *index: int) -> np.random.SeedSequence:
    return np.random.SeedSequence(entropy(purpose, seed, *index))


def numpy_rng(purpose: Purpose, seed: int, *index: int) -> np.random.Generator:
    """A numpy Generator (PCG64) on the stream."""
    return np.random.default_rng(seed_sequence(purpose, seed, *index))


def torch_seed(purpose: Purpose, seed: int, *index: int) -> int:
    """The stream as a torch seed: 63 bits of its SeedSequence state (a non-negative int64)."""
    return int(seed_sequence(purpose, seed, *index).generate_state(1, dtype=np.uint64)[0] >> 1)


def torch_generator(purpose: Purpose, seed: int, *index: int, device="cpu"):
    """A torch.Generator on `device` seeded from the stream."""
    import torch

    return torch.Generator(device=device).manual_seed(torch_seed(purpose, seed, *index))
