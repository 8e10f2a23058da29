"""Training settings that follow the table's size: one rule for every tabular family.

A model file may set any of these keys to `auto` (conf/model/*.yaml's `tabular:` and
`training.tabular:` blocks do); an explicit value
overrides the rule key by key. The rule takes the training table's rows n (before the validation
split), its modelled columns C and its total vocabulary V, and scales a family's reference settings,
tuned on Adult (REF_ROWS training rows), to the table:

    batch_size   = 2^floor(log2(n / 32)) within [32, family maximum]; at most TOKENS_PER_BATCH / C rows
                   (a 64-column table keeps Adult's tokens per step). Small tables get more, smaller steps.
    steps        = reference steps * sqrt(n / REF_ROWS) within [1, 8] x the reference: every table gets at
                   least Adult's number of optimizer steps (cheap at small batches), a large one more,
                   growing slower than its rows (500k rows: 4.6x the steps, 6-7 epochs).
    repeats      = passes over the rows per epoch, floor(ROUND_STEPS / steps per pass) and at least 1
                   (1 when the epochs are set explicitly):
                   an epoch (a validation round) of a small table is ~50 steps, not 9 (the per-epoch
                   validation and checkpoints dominated a 442-row table's training time).
    epochs       = ceil(steps / (steps per pass x repeats)), the form Lightning's trainer counts in.
    warmup_steps = the family's reference warm-up, at most a tenth of the steps.
    val_share    = VAL_ROWS / n within [0.02, 0.15]: enough rows to stop on, few taken from training
                   (Adult keeps its measured 2 %; on Adult 0.1 -> 0.02 gave shape 0.9925 -> 0.9946).
    patience     = max(5, ceil(epochs / 3)) epochs: early stopping guards against over-fitting, it
                   does not cut a healthy cosine schedule short.
    dropout      = 0.1 + 0.1 * log10(REF_ROWS / n) within [0.1, 0.3], and
    weight_decay = the reference * sqrt(REF_ROWS / n) within [1, 10] x the reference:
                   small tables are regularised so that they do not memorise rows.
    d_model      = the reference width (64 for the transformer); see benchmarks/sizing.md.
    lr           = the reference peak rate (0.003 for the transformer) at every size; under DP, DP_LR.
    sample_block = the transformer's rows sampled at once: a 256 MB KV cache, 2,048 to 32,768 rows.
    n_bins       = rows / 40 within [10, 100]: the encoder's quantile bins per numeric column
                   (encoder.n_bins=auto, applied when the encoder is fitted). Against rows / 20 on the
                   suite's tables under 4,000 rows (mean of 4 seeds): detection AUC 0.686 -> 0.534
                   (diabetes), 0.839 -> 0.536 (gapminder), 0.557 -> 0.534 (seattle_weather), with
                   better pair trends and TSTR; from 4,000 rows on both give 100.
    max_categories = per categorical column, the number of its levels seen at least 20 times, within
                   [1,000, 20,000] (encoder.max_categories=auto): a level is worth ~20 rows;
                   under 20,000 rows the floor keeps every level up to 1,000, so small tables are
                   unchanged, and a large table keeps its frequent levels instead of merging them
                   (flights: tailnum's 4,043 levels, 1,000 kept held 62 % of the training rows; the rule
                   keeps 2,983 tokens on the suite's split, 97 %).

The vocabulary V enters through the validation share's floor only (a column with more tokens than
validation rows cannot be scored). Measurements that chose the rule: benchmarks/sizing.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from synthgen.errors import SynthgenError

AUTO = "auto"
REF_ROWS = 24_000  # Adult's training rows, where the families' reference settings were measured
VAL_ROWS = 500  # validation rows wanted for early stopping (Adult: 2 %, as measured there)
TOKENS_PER_BATCH = 16_384  # cap on batch_size x columns (64 columns: 256 rows per step)
MIN_BATCH = 32
ROWS_PER_BIN = 40  # encoder.n_bins=auto: 100 bins from 4,000 rows on
ROWS_PER_LEVEL = 20  # encoder.max_categories=auto: the count that earns a categorical level its token
CATEGORY_CAP = (1_000, 20_000)  # encoder.max_categories=auto: levels kept per column, at least and at most
KV_BLOCK_BYTES = 256 << 20  # model.tabular.sample_block=auto: a sampling block's KV cache, at most
SAMPLE_BLOCK_RANGE = (2048, 32768)
SHAPE_KEYS = ("d_model", "n_layers")  # network keys the sampling block follows when they are set
STEP_SCALE = (1.0, 8.0)  # optimizer steps: the reference's x sqrt(n / REF_ROWS), within these factors
ROUND_STEPS = 50  # an epoch (one validation round, checkpoint, early-stopping check) is at least
# this many steps: a 400-row table's epochs are several passes over its rows


@dataclass(frozen=True)
class TableSize:
    rows: int  # training rows (the validation share is taken from these)
    columns: int  # modelled columns
    vocabulary: int  # tokens over all columns


# Reference settings per family at REF_ROWS rows (the values measured on Adult, benchmarks/results/adult.json):
# steps = epochs x steps per epoch there. Only the keys a family has are filled in.
PROFILES = {
    "TabularTransformer": {
        "steps": 1400,
        "batch_size": 512,
        "warmup_steps": 100,
        "d_model": 64,
        "dropout": 0.1,
        "lr": 0.003,  # the peak AdamW rate; under DP, DP_LR (apply_dp_schedule)
        "weight_decay": 0.01,
        "random_order_share": 0.5,
        "n_layers": 2,  # the reference depth; sample_block() follows an explicit model.tabular.n_layers
        "sample_block": 2048,  # the pre-rule value; sample_block() sizes it from the KV cache
    },
    "TabularVAE": {"steps": 3800, "batch_size": 256, "weight_decay": 1e-5},
    "TabularGAN": {"steps": 1950, "batch_size": 250, "weight_decay": 1e-6},
}
TRAINING = ("epochs", "patience", "val_share", "repeats")


def _clip(x, lo, hi):
    return max(lo, min(hi, x))


def n_bins(rows: int) -> int:
    """Quantile bins per numeric column (encoder.n_bins=auto): ROWS_PER_BIN rows a bin, 10 to 100."""
    return int(_clip(round(rows / ROWS_PER_BIN), 10, 100))


def max_categories(frequencies) -> int:
    """Levels kept per categorical column (encoder.max_categories=auto): those seen at least
    ROWS_PER_LEVEL times, within CATEGORY_CAP. `frequencies`: the column's level counts."""
    frequent = sum(1 for f in frequencies if f >= ROWS_PER_LEVEL)
    return int(_clip(frequent, *CATEGORY_CAP))


def batch_size(size: TableSize, family_max: int, multiple: int = 1) -> int:
    """Rows per optimizer step: ~n/32 rounded down to a power of two, within [32, family_max], and
    at most TOKENS_PER_BATCH / columns; a multiple of `multiple` (the GAN's pac)."""
    b = 2 ** int(math.floor(math.log2(max(1.0, size.rows / 32))))
    b = min(family_max, max(MIN_BATCH, b), max(MIN_BATCH, TOKENS_PER_BATCH // max(1, size.columns)))
    b = min(b, max(1, size.rows))
    return max(multiple, b - b % multiple)


def total_steps(size: TableSize, ref_steps: int) -> int:
    return int(round(ref_steps * _clip(math.sqrt(size.rows / REF_ROWS), *STEP_SCALE)))


def val_share(size: TableSize) -> float:
    want = max(VAL_ROWS, size.vocabulary // 4)
    return math.ceil(_clip(want / max(1, size.rows), 0.02, 0.15) * 1e4) / 1e4  # rounded up: >= `want` rows


def steps_per_epoch(rows: int, batch: int, share: float) -> int:
    """As synthgen.data.TensorDataModule batches: drop_last once the training rows exceed a batch."""
    n_val = int(round(rows * share)) if rows >= 10 else 0
    return max(1, (rows - n_val) // batch) if rows - n_val > batch else 1


def plan(family: str, size: TableSize, multiple: int = 1, fixed: dict | None = None) -> dict:
    """Every `auto`-able setting of `family` (class name) for a table of `size`. `fixed`: the values
    set explicitly (batch_size, val_share, epochs), which the derived settings then follow."""
    if size.rows < 1:
        raise SynthgenError("the training table has no rows; nothing to train on")
    ref, fixed = PROFILES[family], {k: v for k, v in (fixed or {}).items() if v not in (None, AUTO)}
    batch = int(fixed.get("batch_size") or batch_size(size, ref["batch_size"], multiple))
    share = float(fixed.get("val_share", val_share(size)))
    steps = total_steps(size, ref["steps"])
    per_pass = steps_per_epoch(size.rows, batch, share)
    # passes over the rows per epoch (validation round); explicit epochs count single passes
    repeats = 1 if fixed.get("epochs") else max(1, ROUND_STEPS // per_pass)
    epochs = int(fixed.get("epochs") or math.ceil(steps / (per_pass * repeats)))
    out = {
        "batch_size": batch,
        "epochs": epochs,
        "val_share": share,
        "patience": max(5, math.ceil(epochs / 3)),
        "steps": steps,
        "repeats": repeats,
    }
    small = REF_ROWS / size.rows  # > 1 below the reference size
    if "warmup_steps" in ref:
        out["warmup_steps"] = max(1, min(ref["warmup_steps"], steps // 10))
    if "dropout" in ref:
        out["dropout"] = round(_clip(ref["dropout"] + 0.1 * math.log10(small), ref["dropout"], 0.3), 3)
    if "weight_decay" in ref:
        out["weight_decay"] = float(f"{ref['weight_decay'] * _clip(math.sqrt(small), 1.0, 10.0):.3g}")
    if "d_model" in ref:
        out["d_model"] = ref["d_model"]
    if "lr" in ref:
        out["lr"] = ref["lr"]
    if "random_order_share" in ref:
        out["random_order_share"] = ref["random_order_share"]
    if "sample_block" in ref:
        d_model = int(fixed.get("d_model") or ref["d_model"])
        out["sample_block"] = sample_block(size.columns, d_model, int(fixed.get("n_layers") or ref["n_layers"]))
    return out


def sample_block(columns: int, d_model: int, n_layers: int) -> int:
    """Rows the transformer samples at once (model.tabular.sample_block=auto): as many as keep the
    block's KV cache (columns x layers x 2 x d_model float32 a row) within KV_BLOCK_BYTES, a power of
    two within [2,048, 32,768]. Rows of a block share the computation of their common prefixes, so
    larger blocks sample faster where prefixes repeat: 50,000 rows, 1 thread, 2,048 -> 32,768 rows a
    block: penguins (8 columns) 0.96 -> 0.38 s, seattle_weather 1.00 -> 0.98 s; an Adult-shaped model
    (15 columns) 3.58 s at 2,048, 3.52 s at 16,384, 3.81 s at 32,768 (benchmarks/sizing.md)."""
    rows = KV_BLOCK_BYTES // max(1, columns * n_layers * 2 * d_model * 4)
    return int(_clip(2 ** int(math.floor(math.log2(max(1, rows)))), *SAMPLE_BLOCK_RANGE))


def resolve(spec: dict, training: dict, size: TableSize | None, modality: str = "tabular") -> tuple[dict, dict, dict]:
    """(network spec, training settings, the rule's full plan) with every `auto` replaced by the
    rule's value for `size` (None: the reference table, REF_ROWS rows of 15 columns). Explicit
    values stay; a key set to anything but a number or `auto` is a one-line SynthgenError naming it
    as model.<modality>.<key> (network) or model.training.<modality>.<key>."""
    family = spec.get("_target_", "").rsplit(".", 1)[-1]

    def key(k):
        return f"model.{modality}.{k}" if k in spec else f"model.training.{modality}.{k}"

    for k in (*PROFILES.get(family, {}), *TRAINING):  # "steps" is no model key: .get gives None
        check_number(key(k), {**spec, **training}.get(k))
    autos = [key(k) for k, v in {**spec, **training}.items() if v == AUTO]
    if not autos:
        return spec, training, {}
    if family not in PROFILES:
        raise SynthgenError(
            f"{', '.join(autos)} = 'auto', which {family or 'this model'} does not support; set numbers"
        )
    size = size or TableSize(REF_ROWS, 15, 1_000)
    fixed = {
        k: d.get(k) for d in (spec, training) for k in ("batch_size", "val_share", "epochs", *SHAPE_KEYS) if k in d
    }
    rule = plan(family, size, int(spec.get("pac", 1) or 1), fixed)
    spec, training = dict(spec), dict(training)
    for d in (spec, training):
        for k, v in d.items():
            if v == AUTO:
                if k not in rule:
                    raise SynthgenError(f"{key(k)}=auto: the sizing rule has no value for {k}; set a number")
                d[k] = rule[k]
    training.setdefault("repeats", rule["repeats"])
    return spec, training, rule


def check_number(key: str, value) -> None:
    """One-line error for a training setting that is neither a number nor `auto`."""
    if value is not None and value != AUTO and (isinstance(value, bool) or not isinstance(value, (int, float))):
        raise SynthgenError(f"{key}={value!r}: expected a number or auto")


# ---- under differential privacy (privacy.epsilon set) ------------------------------------------------
# DP-SGD adds Gaussian noise of std sigma * max_grad_norm to each step's sum of clipped per-row
# gradients; what the weights see is that sum over the expected batch B, so the noise on the mean
# gradient is sigma / B (x max_grad_norm). For a fixed number of steps T and budget, sigma grows
# about linearly with the sample rate q = B / n once sigma >~ 1 (sigma ~ q sqrt(T log(1/delta)) / epsilon),
# so sigma / B stops falling there; below that, a larger batch lowers sigma / B at a small rise in
# sigma (Adult, eps 4, T = 190: B 512 -> 1.48e-3, 1024 -> 0.98e-3, 2048 -> 0.76e-3). The DP literature's
# rule (De et al. 2022; Sander et al. 2023 "TAN without a burn"; Ponomareva et al. 2023 "How to DP-fy ML")
# follows: fix the steps, then take the largest expected batch the compute allows. Compute is
# the passes over the rows with per-sample gradients, DP_EPOCHS. Measured (benchmarks/bench_dp.py,
# Adult anchors split, public domains; shape / pair trends / TSTR ratio): eps 4, B 512 x 4 epochs
# 0.931 / 0.908 / 0.812 -> B 1024 x 8 (this rule) 0.933 / 0.913 / 0.859; eps 1: 0.938 / 0.884 / 0.733 ->
# 0.940 / 0.885 / 0.740. B 2048 x 8 (92 steps) trained behind B 1024 at every epoch (issue #17's notes).
DP_FAMILIES = ("TabularTransformer", "TabularVAE")  # the families DP-SGD trains (privacy/training.py)
DP_STEPS = 180  # optimiser steps of a DP run, at least (Adult before this rule: 4 epochs at B 512, 188 steps)
DP_EPOCHS = 8  # passes over the rows (the compute); more only when the batch floor leaves < DP_STEPS steps
# Twice the epochs (and steps) at the same batch when the noise multiplier that spends the budget on
# them stays at most DP_LONG_SIGMA. Below ~1.3 the subsampled Gaussian's epsilon grows slowly with the
# steps (2x the steps: sigma x1.2 at eps 4 on Adult), above it about as sqrt(steps) (x1.36 at eps 1).
# Measured (bench_dp.py, Adult anchors split, public domains, B 1024; shape / pair trends / TSTR ratio):
# eps 4, sigma 1.06 -> 1.27: 0.978 / 0.957 / 0.964 (8 epochs) -> 0.979 / 0.959 / 0.973 (16); eps 1,
# sigma 2.68 -> 3.63: 0.972 / 0.943 / 0.943 -> 0.971 / 0.942 / 0.922 (so 8 stay).
DP_LONG_SIGMA = 1.5
DP_RANDOM_ORDER_SHARE = 0.0  # the transformer trains in its generation order only under DP (apply_dp_schedule)
# The peak rate under DP (the transformer's `lr: auto`). AdamW divides each coordinate's step by the root
# of its second moment, which under DP-SGD is mostly the noise's variance (sigma / B per coordinate), not
# the gradient's: the step a coordinate takes is ~lr x its signal-to-noise ratio, far below lr. The
# reference 3e-3 then leaves a 184-step DP run under-trained; 10x compensates. Measured
# (benchmarks/bench_dp.py, Adult anchors split, public domains; shape / pair trends / TSTR ratio /
# detection AUC): eps 4: lr 3e-3 0.979 / 0.936 / 0.854 / 0.936, 1e-2 0.977 / 0.951 / 0.951 / 0.772,
# 3e-2 0.978 / 0.957 / 0.964 / 0.728, 1e-1 0.979 / 0.951 / 0.939 / 0.792; eps 1: 3e-3 0.978 / 0.925 /
# 0.764 / 0.976, 1e-2 0.978 / 0.944 / 0.909 / 0.881, 3e-2 0.972 / 0.943 / 0.943 / 0.835. Other tables:
# README, "Differential privacy".
DP_LR = 0.03


def dp_schedule(rows: int, batch: int | None = None, noise_for=None) -> dict:
    """Expected batch and epochs under DP for a table of `rows` training rows:
        B      = n x DP_EPOCHS / DP_STEPS rounded down to a power of two, within [MIN_BATCH, n / 2];
        epochs = max(DP_EPOCHS, ceil(DP_STEPS / (n // B))): DP_STEPS to ~2 x DP_STEPS steps.
    1,000 rows: B 32, 8 epochs of 31 steps; 24,403 (Adult): B 1024, 8 x 23 = 184 steps (16 x 23 at
    epsilon 4, where sigma for them is 1.27);
    30,000: B 1024, 8 x 29 = 232; 400: B 32, 15 x 12 = 180. `batch`: an explicit batch size,
    which the epochs then follow. `noise_for(sample_rate, steps)`: the noise multiplier the budget
    needs (None: none does); given, the epochs double when that stays <= DP_LONG_SIGMA."""
    if rows < 1:
        raise SynthgenError("the training table has no rows; nothing to train on")
    if batch is None:
        b = 2 ** int(math.floor(math.log2(max(1.0, rows * DP_EPOCHS / DP_STEPS))))
        batch = max(1, min(max(MIN_BATCH, b), rows // 2))
    per_epoch = max(1, rows // batch)  # the Poisson loader's steps per epoch (drop_last, no validation split)
    epochs = max(DP_EPOCHS, math.ceil(DP_STEPS / per_epoch))
    if noise_for is not None:
        sigma = noise_for(1.0 / per_epoch, 2 * epochs * per_epoch)
        epochs = 2 * epochs if sigma is not None and sigma <= DP_LONG_SIGMA else epochs
    return {"batch_size": int(batch), "epochs": epochs, "steps": epochs * per_epoch}


def apply_dp_schedule(
    spec: dict, training: dict, rule: dict, size: TableSize, auto_keys: set, noise_for=None
) -> tuple[dict, dict, dict]:
    """spec/training with the DP schedule for the keys the user left `auto` (auto_keys, of
    {"batch_size", "epochs", "lr", "random_order_share"}); explicit values stay (the epochs follow an
    explicit batch). The rule's plan gets the DP values as dp_*. noise_for: as dp_schedule's."""
    batch = None if "batch_size" in auto_keys else int(spec["batch_size"])
    dp = dp_schedule(size.rows, batch, noise_for if "epochs" in auto_keys else None)  # no search for fixed epochs
    spec, training = dict(spec), dict(training)
    spec["batch_size"] = dp["batch_size"]
    if "epochs" in auto_keys:
        training["epochs"] = dp["epochs"]
    if "lr" in auto_keys and "lr" in spec:
        spec["lr"] = dp["lr"] = DP_LR
    if "random_order_share" in auto_keys and "random_order_share" in spec:
        # Rows trained in random column orders (any-column conditioning) split a signal DP-SGD's noise
        # leaves scarce; in the generation order alone, Adult (public domains) gave shape / pair trends /
        # TSTR 0.979 / 0.936 / 0.854 at eps 4 against 0.977 / 0.930 / 0.814 with half the rows in random
        # orders, and 0.978 / 0.925 / 0.764 against 0.974 / 0.921 / 0.737 at eps 1 (issue #17's notes).
        spec["random_order_share"] = DP_RANDOM_ORDER_SHARE
        dp["random_order_share"] = DP_RANDOM_ORDER_SHARE
    return spec, training, {**rule, **{f"dp_{k}": v for k, v in dp.items()}}
