"""The tabular families (GAN, VAE over one-hot token spans; the transformer over column tokens):
fit, valid and reproducible samples, learning a simple relation, conditions (native and by
rejection), checkpoint round trip, the pipeline; the transformer's orders and KV cache."""

from __future__ import annotations

import warnings

import numpy as np
import pyarrow.parquet as pq
import pytest
import pytorch_lightning as pl
import torch
from hydra.utils import instantiate

from synthgen.checkpoint import export_generator, load_generator
from synthgen.config import load_config
from synthgen.data import TokenDataModule
from synthgen.errors import SynthgenError
from synthgen.modalities import model_spec
from synthgen.models import blocks
from synthgen.models.base import Generator
from synthgen.models.heads import Spans, rejection_sample

FAMILIES = ["gan", "vae"]  # conditions by rejection (the GAN: partly through its conditional vector)
ALL = [*FAMILIES, "transformer"]  # the transformer conditions natively (fixed columns first)
# Small networks so that each test takes a few seconds on one CPU thread.
SMALL = {
    "gan": [
        "model.tabular.noise_dim=16",
        "model.tabular.generator_widths=[64,64]",
        "model.tabular.critic_widths=[64,64]",
        "model.tabular.batch_size=100",
        "model.tabular.lr=0.002",
        "model.tabular.sample_block=512",
    ],
    "vae": [
        "model.tabular.latent_dim=8",
        "model.tabular.encoder_widths=[64,64]",
        "model.tabular.decoder_widths=[64,64]",
        "model.tabular.batch_size=100",
        "model.tabular.lr=0.01",
        "model.tabular.sample_block=512",
    ],
    "transformer": [
        "model.tabular.d_model=32",
        "model.tabular.n_layers=1",
        "model.tabular.batch_size=100",
        "model.tabular.lr=0.01",
        "model.tabular.warmup_steps=10",
        "model.tabular.sample_block=512",
    ],
}


def free(n: int, C: int) -> torch.Tensor:
    return torch.full((n, C), -1, dtype=torch.long)


def make_model(family: str, cardinalities, *extra: str):
    cfg = load_config([f"model={family}", *SMALL[family], *extra])
    layout = {
        "kind": "tokens",
        "columns": [f"c{i}" for i in range(len(cardinalities))],
        "cardinalities": list(cardinalities),
    }
    model_config = model_spec(cfg)[0]
    return instantiate(model_config, layout=layout, _convert_="all"), model_config


def fit(model, tokens: np.ndarray, **trainer_kwargs):
    torch.manual_seed(0)
    dm = TokenDataModule(tokens, model.batch_size, 0.1, seed=0)
    kwargs = dict(
        max_epochs=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        accelerator="cpu",
        num_sanity_val_steps=0,
        gradient_clip_val=1.0 if model.automatic_optimization else None,
    )  # as the pipeline does
    trainer = pl.Trainer(**{**kwargs, **trainer_kwargs})
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*does not have many workers.*")
        trainer.fit(model, datamodule=dm)
    return trainer


def random_table(cardinalities, n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.stack([rng.integers(0, k, n) for k in cardinalities], 1)


def equal_pair_table(n: int = 2000, seed: int = 0) -> np.ndarray:
    """col0 == col1 (4 tokens each), col2 independent (3 tokens)."""
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 4, n)
    return np.stack([a, a, rng.integers(0, 3, n)], 1)


@pytest.fixture(scope="module")
def trained_equal():
    """One model per family trained briefly on the col0 == col1 table (shared by several tests)."""
    out = {}
    epochs = {"gan": 12, "vae": 10, "transformer": 10}
    for family in ALL:
        model, model_config = make_model(family, [4, 4, 3])
        fit(model, equal_pair_table(), max_epochs=epochs[family])
        out[family] = (model.eval(), model_config)
    return out


# ---- heads ----------------------------------------------------------------------------------------
def test_span_cross_entropy_matches_per_column_softmax():
    spans = Spans([3, 1, 5])
    logits = torch.randn(6, 9)
    tokens = torch.tensor([[0, 0, 4], [2, 0, 1], [1, 0, 0], [0, 0, 3], [2, 0, 2], [1, 0, 1]])
    expected = torch.stack(
        [
            torch.nn.functional.cross_entropy(logits[:, o : o + k], tokens[:, c], reduction="none")
            for c, o, k in spans.slices()
        ],
        1,
    )
    assert torch.allclose(spans.cross_entropy(logits, tokens), expected, atol=1e-5)
    assert torch.allclose(spans.log_softmax(logits)[:, 3], torch.zeros(6), atol=1e-6)  # 1-token span
    one = spans.one_hot(tokens)
    assert one.shape == (6, 9) and torch.equal(one.sum(1), torch.full((6,), 3.0))
    assert torch.equal(spans.argmax(one), tokens)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA's autocast (bf16 logits, float32 exp) needs a GPU")
def test_span_activations_under_cuda_autocast_match_float32():
    # the GAN's generator under trainer=gpu (bf16-mixed): a bf16 linear layer's logits, whose exp
    # CUDA's autocast computes in float32 (the CPU's keeps bf16)
    torch.manual_seed(0)
    spans, layer = Spans([3, 1, 5]).cuda(), torch.nn.Linear(8, 9).cuda()
    x = torch.randn(64, 8, device="cuda")
    with torch.autocast("cuda", dtype=torch.bfloat16):
        logits = layer(x)
        assert logits.dtype == torch.bfloat16
        soft = spans.log_softmax(logits).exp()
    expected = spans.log_softmax(logits.float()).exp()
    assert torch.allclose(soft.float(), expected, atol=1e-2)


@pytest.mark.parametrize("bf16_product", [False, True])
def test_span_sampler_follows_softmax(bf16_product):
    spans = Spans([3, 5])
    h = torch.randn(1, 4).expand(40_000, 4).contiguous()
    weight, bias = torch.randn(8, 4), torch.randn(8)
    g = torch.Generator().manual_seed(0)
    tokens = spans.sample_linear(h, weight, bias, g, bf16_product=bf16_product).t()  # [n, C]
    logits = h[0] @ weight.T + bias
    for c, o, k in spans.slices():
        freq = torch.bincount(tokens[:, c], minlength=k).float() / len(tokens)
        assert torch.allclose(freq, torch.softmax(logits[o : o + k], 0), atol=0.01)


def test_rejection_sample_fills_or_names_the_acceptance_rate():
    g = torch.Generator().manual_seed(0)

    def draw(m, target):  # two independent uniform columns of 4 and 2 tokens
        return torch.stack([torch.randint(0, 4, (m,), generator=g), torch.randint(0, 2, (m,), generator=g)], 1)

    cond = free(300, 2)
    cond[:, 0] = 3
    out, rate = rejection_sample(draw, cond, [4, 2])
    assert (out[:, 0] == 3).all() and 0.15 < rate < 0.35
    with pytest.raises(SynthgenError, match="acceptance rate 0 "):
        rejection_sample(lambda m, t: torch.zeros(m, 2, dtype=torch.long), cond, [4, 2], max_rounds=3)
    with pytest.raises(SynthgenError, match="outside its vocabulary"):
        rejection_sample(draw, torch.full((5, 2), 4), [4, 2])


# ---- each family ----------------------------------------------------------------------------------
@pytest.mark.parametrize("family", ALL)
def test_fast_dev_run_then_valid_reproducible_tokens(family):
    cards = [3, 5, 2, 7]
    model, _ = make_model(family, cards)
    fit(model, random_table(cards, 300), fast_dev_run=True)
    model.eval()
    a = model.sample(free(1000, 4), torch.Generator().manual_seed(1))
    assert a.shape == (1000, 4) and a.dtype == torch.long
    for j, k in enumerate(cards):
        assert a[:, j].min() >= 0 and a[:, j].max() < k
    b = model.sample(free(1000, 4), torch.Generator().manual_seed(1))
    c = model.sample(free(1000, 4), torch.Generator().manual_seed(2))
    assert torch.equal(a, b) and not torch.equal(a, c)
    if family in FAMILIES:
        assert model.last_acceptance_rate == 1.0


@pytest.mark.parametrize("family", ALL)
def test_learns_equal_columns(family, trained_equal):
    model, _ = trained_equal[family]
    out = model.sample(free(4000, 3), torch.Generator().manual_seed(0))
    agree = (out[:, 0] == out[:, 1]).float().mean().item()
    assert agree > 0.6, f"col0 == col1 in {agree:.2f} of rows (chance: 0.25)"
    for j, k in enumerate([4, 4, 3]):  # every token of every column still appears
        assert len(torch.unique(out[:, j])) == k


@pytest.mark.parametrize("family", ALL)
def test_fixed_tokens_come_back(family, trained_equal):
    model, _ = trained_equal[family]
    g = torch.Generator().manual_seed(0)
    one = free(500, 3)
    one[:, 0] = 2  # the GAN meets this one through its conditional vector
    out = model.sample(one, g)
    assert (out[:, 0] == 2).all()
    assert (out[:, 1] == 2).float().mean() > 0.5  # and keeps the learned relation
    if family in FAMILIES:
        assert 0 < model.last_acceptance_rate <= 1
    two = free(500, 3)
    two[:, 0], two[:, 2] = 1, 0
    out = model.sample(two, g)
    assert (out[:, 0] == 1).all() and (out[:, 2] == 0).all()


@pytest.mark.parametrize("family", FAMILIES)
def test_impossible_condition_names_the_acceptance_rate(family, trained_equal):
    model, _ = trained_equal[family]
    cond = free(1000, 3)
    cond[:, 0], cond[:, 1] = 0, 1  # never seen: col0 == col1 in every training row
    model.max_rejection_rounds = 2
    try:
        with pytest.raises(SynthgenError, match=r"acceptance rate \d"):
            model.sample(cond, torch.Generator().manual_seed(0))
    finally:
        model.max_rejection_rounds = 50
    assert model.last_acceptance_rate < 0.11  # what the error reported


@pytest.mark.parametrize("family", ALL)
def test_checkpoint_round_trip_gives_same_samples(family, trained_equal, tmp_path):
    model, model_config = trained_equal[family]
    export_generator(model, model_config, tmp_path / "model.ckpt")
    loaded = load_generator(tmp_path / "model.ckpt")
    cond = free(2000, 3)
    cond[:, 2] = 1
    for c in (free(2000, 3), cond):
        a = model.sample(c, torch.Generator().manual_seed(5))
        b = loaded.sample(c, torch.Generator().manual_seed(5))
        assert torch.equal(a, b)


# ---- through the pipeline -------------------------------------------------------------------------
@pytest.mark.parametrize("family", ALL)
def test_pipeline_trains_and_generates(family, tmp_path):
    """prepare -> encode -> train (with the shared trainer config) -> generate, on 400 Adult rows."""
    from synthgen import pipeline
    from tests.conftest import ROOT

    cfg = load_config(
        [
            f"model={family}",
            *SMALL[family],
            f"paths.out_dir={tmp_path / 'out'}",
            f"paths.mlflow_dir={tmp_path / 'mlruns'}",
            "data.max_rows=400",
            "trainer.max_epochs=1",
            "trainer.enable_progress_bar=false",
            "generate.n_rows=300",
            "generate.chunk_rows=128",
            f"data.path={ROOT / 'data/adult/adult_train.parquet'}",
            "generate.condition.sex=Female",
        ]
    )
    for stage in ("prepare", "encode", "train", "generate"):
        pipeline.STAGES[stage](cfg)
    df = pq.read_table(tmp_path / "out" / "synthetic").to_pandas()
    assert len(df) == 300 and (df["sex"] == "Female").all()


# ---- the transformer ------------------------------------------------------------------------------
def test_transformer_orders_put_a_random_subset_first_then_the_generation_order():
    cards = [5, 2, 9, 3, 2, 7]
    model, _ = make_model("transformer", cards, "model.tabular.random_order_share=0.5")
    gen = model.generation.tolist()
    assert [cards[c] for c in gen] == sorted(cards) and gen[:2] == [1, 4]  # fewest tokens first, stable
    model.train()
    torch.manual_seed(0)
    orders = model._orders(4000)
    assert torch.equal(orders.sort(1).values, torch.arange(6).expand(4000, 6))  # permutations
    rank = model.rank[orders]  # [B, C] generation rank of the column at each position
    # The columns after the random subset follow the generation order, so each row ends in a long
    # increasing run of ranks (random permutations of 6 end in one of 1.7 on average).
    rising = torch.ones(len(rank), dtype=torch.long)
    for j in range(4, -1, -1):
        rising += ((rank[:, j] < rank[:, j + 1]) & (rising == 5 - j)).long()
    in_order = (rising == 6).float().mean()
    assert 0.5 < in_order < 0.8  # the unconditional half, plus subsets that happen to be in order
    assert rising.float().mean() > 4.5
    model.eval()
    assert torch.equal(model._orders(3), model.generation.expand(3, 6))
    model2, _ = make_model("transformer", cards, "model.tabular.column_order=table")
    assert model2.generation.tolist() == list(range(6))
    with pytest.raises(Exception, match="model.tabular.column_order must be 'cardinality' or 'table'"):
        make_model("transformer", cards, "model.tabular.column_order=random")  # (Hydra wraps the ValueError)


@pytest.mark.parametrize("batch_major", [False, True])
def test_transformer_kv_cached_sampling_equals_the_full_forward(batch_major, monkeypatch):
    """Greedy decoding (temperature -> 0) with the KV cache picks, at every step, the argmax of
    the logits that the teacher-forced forward pass computes for the same prefix; in either cache
    layout (models/blocks.py: batch-major from BATCH_MAJOR_MIN_POSITIONS columns, forced here)."""
    monkeypatch.setattr(blocks, "BATCH_MAJOR_MIN_POSITIONS", 1 if batch_major else 10**9)
    cards = [4, 6, 3, 5]
    torch.manual_seed(0)
    model, _ = make_model("transformer", cards, "model.tabular.temperature=1e-6", "model.tabular.sample_block=7")
    model.sample_precision = "32"  # generate.precision=32: the full forward's float32, to the bit
    model.eval()
    cond = free(20, 4)
    cond[:10, 2] = 1  # a second pattern: column 2 fixed, generated first
    out = model.sample(cond, torch.Generator().manual_seed(0))
    for rows, fixed in ((slice(0, 10), [2]), (slice(10, 20), [])):
        x = out[rows]
        gen = [c for c in model.generation.tolist() if c not in fixed]
        order = torch.tensor(fixed + gen).expand(len(x), 4)
        with torch.no_grad():
            h = model(x, order)  # [n, C, d], state of column c where it is predicted
        for c in gen:
            assert torch.equal(model.column_logits(h[:, c], c).argmax(-1), x[:, c]), c
    assert (out[:10, 2] == 1).all()


@pytest.mark.parametrize("family", ["transformer", "vae", "gan"])
def test_bf16_sampling_draws_what_float32_draws(trained_equal, family):
    """bf16 sampling (the trunk's products under autocast; GAN and VAE: the head's product too, its
    logits widened to float32 for the draw) keeps the learned distribution: the same rows as float32
    almost everywhere (a bf16 rounding flips a draw only near a CDF step), the same marginals and the
    learned col0 == col1 relation."""
    model, _ = trained_equal[family]
    assert model.samples_with_autocast
    draws = {}
    for precision in ("32", "bf16"):
        model.sample_precision = precision
        draws[precision] = model.sample(free(4000, 3), torch.Generator().manual_seed(0))
    model.sample_precision = "native"
    a, b = draws["32"], draws["bf16"]
    assert (a == b).all(1).float().mean() > 0.95
    for j, k in enumerate([4, 4, 3]):
        fa, fb = (torch.bincount(x[:, j], minlength=k) / len(x) for x in (a, b))
        assert (fa - fb).abs().max() < 0.01, j
    assert (b[:, 0] == b[:, 1]).float().mean() > 0.6


def test_generated_distance_samples_in_float32_whatever_generate_precision(trained_equal):
    """The GAN picks its exported epoch by generated_distance: the figure must not depend on
    generate.precision (bf16 on one machine, float32 on another), and the setting comes back."""
    from synthgen.models.heads import generated_distance

    model, _ = trained_equal["gan"]
    ref = torch.from_numpy(equal_pair_table()[:500])
    model.sample_precision = "32"
    expected = generated_distance(model, ref)
    model.sample_precision = "bf16"
    assert torch.equal(generated_distance(model, ref), expected)
    assert model.sample_precision == "bf16"
    model.sample_precision = "native"


def test_sample_categorical_follows_softmax():
    from synthgen.models.blocks import sample_categorical

    logits = torch.tensor([0.5, -1.0, 2.0, 0.0, -3.0])
    draws = sample_categorical(logits.expand(100_000, 5), torch.Generator().manual_seed(0))
    freq = torch.bincount(draws, minlength=5).float() / len(draws)
    assert torch.allclose(freq, logits.softmax(0), atol=0.006)
    hot = sample_categorical(logits.expand(1000, 5), torch.Generator().manual_seed(0), temperature=0.05)
    assert (hot == 2).all()


def test_dropout_drops_like_nn_dropout():
    """blocks.Dropout against torch's nn.Dropout: the same drop rate and scale, the same mean,
    identity in eval mode, a gradient of mask * scale, and reproducible under the global seed."""
    from synthgen.models.blocks import Dropout

    x = (torch.rand(300_001) + 0.5).requires_grad_()  # odd length: the last int64 draw is partly used
    ours, ref = Dropout(0.1), torch.nn.Dropout(0.1)
    torch.manual_seed(0)
    y = ours(x)
    torch.manual_seed(0)
    assert torch.equal(ours(x), y)
    y_ref = ref(x)
    for out in (y, y_ref):
        dropped = (out == 0).float().mean()
        assert abs(dropped - 0.1) < 0.003  # binomial sd 0.0005
        assert abs(out.mean() - x.mean()) < 0.01
    kept = y != 0
    assert torch.allclose(y[kept], x[kept] / 0.9, rtol=1e-4)
    y.sum().backward()
    assert torch.allclose(x.grad, kept.float() / 0.9, rtol=1e-4)
    assert torch.equal(ours.eval()(x), x) and torch.equal(Dropout(0.0)(x), x)
    with pytest.raises(ValueError):
        Dropout(1.0)


def test_a_wide_column_gets_its_own_head_and_the_same_loss_on_every_path(monkeypatch):
    """A column wider than HEAD_PAD_MAX is scored through its own head slice; the loss is still the
    mean of every column's NLL, computed here column by column, and the DP-SGD path agrees."""
    import torch.nn.functional as F

    from synthgen.models import transformer
    from synthgen.models.transformer import TabularTransformer

    monkeypatch.setattr(transformer, "HEAD_PAD_MAX", 6)
    torch.manual_seed(0)
    cards = (3, 40, 5, 9)
    m = TabularTransformer(
        {"columns": list("abcd"), "cardinalities": list(cards)},
        d_model=16,
        n_layers=1,
        n_heads=2,
        dropout=0.0,
        train_precision="32",  # the paths compared in float32 (512 x 4 tokens would train in bf16 natively)
    ).eval()
    assert m.wide == [1, 3] and m.head_rows.shape == (2, 5)
    x = torch.stack([torch.randint(0, k, (32,)) for k in cards], 1)
    h = m(x, m._orders(len(x)))
    by_column = torch.stack([F.cross_entropy(m.column_logits(h[:, c], c), x[:, c]) for c in range(4)]).mean()
    assert torch.allclose(m._loss(x), by_column, atol=1e-6)
    m.per_sample_grads = True
    assert torch.allclose(m._loss(x), by_column, atol=1e-6)


def test_a_large_tables_gan_samples_conditions_from_a_bounded_seeded_share_of_its_rows(monkeypatch):
    """Training by sampling keeps every row up to INDEX_MAX_ROWS and a seeded ~INDEX_MAX_ROWS share of
    a larger table (the same share for the same seed), so its memory does not grow with the table."""
    from torch.utils.data import DataLoader, TensorDataset

    from synthgen.models import gan

    model, _ = make_model("gan", [3, 5])
    rows = torch.stack([torch.arange(4000) % 3, torch.arange(4000) % 5], 1)
    loader = DataLoader(TensorDataset(rows), batch_size=model.batch_size, drop_last=True)
    every = model._index_rows(loader)
    assert len(every) == len(loader) * model.batch_size  # under the cap: all of them
    monkeypatch.setattr(gan, "INDEX_MAX_ROWS", 400)
    torch.manual_seed(7)
    share = model._index_rows(loader)
    torch.manual_seed(7)
    again = model._index_rows(loader)
    assert 300 < len(share) < 500 and torch.equal(share, again)


@pytest.mark.parametrize("batch_major", [False, True])
def test_the_transformer_samples_on_a_bounded_set_of_batch_sizes_and_draws_what_exact_sizes_draw(
    batch_major, monkeypatch
):
    """The prefix nodes of a sampling step are padded to padded_nodes(n) rows (oneDNN keeps a
    primitive per matrix shape: with exact counts the sampler's memory grew with every chunk); the
    padding rows are dropped, so the draws are those of the exact counts. Either cache layout."""
    import synthgen.models.transformer as tr

    monkeypatch.setattr(blocks, "BATCH_MAJOR_MIN_POSITIONS", 1 if batch_major else 10**9)

    assert [tr.padded_nodes(n) for n in (1, 15, 16, 17, 33, 1025, 2048)] == [1, 15, 16, 18, 36, 1152, 2048]
    sizes = {tr.padded_nodes(n) for n in range(1, 1 << 16)}
    assert len(sizes) <= 16 + 8 * 12 and all(n <= tr.padded_nodes(n) <= n * 1.125 for n in range(1, 1 << 16))
    torch.manual_seed(0)
    model, _ = make_model("transformer", [30, 7, 5, 4])
    model.sample_precision = "32"
    model.eval()
    seen = []
    model.trunk.register_forward_pre_hook(lambda m, args: seen.append(args[0].shape[0]))
    padded = model.sample(free(2000, 4), torch.Generator().manual_seed(0))
    assert all(tr.padded_nodes(s) == s for s in seen) and any(s not in (1, 512, 2000 - 3 * 512) for s in seen)
    monkeypatch.setattr(tr, "padded_nodes", lambda n: n)
    exact = model.sample(free(2000, 4), torch.Generator().manual_seed(0))
    assert (padded == exact).all(1).float().mean() > 0.99


def test_the_transformer_trains_its_trunk_in_bf16_where_asked_with_attention_head_and_loss_in_float32():
    """train_precision=bf16: the trunk's linear layers run in bfloat16, the attention (on CPU), the
    head and the loss in float32, and every gradient lands in float32 parameters; "32" and DP-SGD's
    per-row gradients keep the trunk float32; "native" is bf16 where blocks.bf16_native and a step
    holds >= 2,048 tokens (batch x columns); any other value is a one-line error naming the key."""
    from synthgen.models.blocks import bf16_native

    cards = [3, 5, 7, 40]
    x = torch.from_numpy(random_table(cards, 64))
    seen = {}

    def record(name):
        def hook(module, inputs, output):
            seen[name] = (inputs[0].dtype, output.dtype)

        return hook

    for precision, dp, trunk in (
        ("bf16", False, torch.bfloat16),
        ("32", False, torch.float32),
        ("bf16", True, torch.float32),
    ):
        model, _ = make_model("transformer", cards, f"model.tabular.train_precision={precision}")
        model.per_sample_grads = dp  # as privacy/training.py sets it while DP-SGD trains
        block = model.trunk.blocks[0]
        block.mlp[0].register_forward_hook(record("mlp"))
        block.attn.proj.register_forward_hook(record("proj"))
        loss = model._loss(x)
        assert seen["mlp"][1] == trunk, (precision, dp)
        assert seen["proj"][0] == torch.float32, (precision, dp)  # the attention's output
        assert loss.dtype == torch.float32
        loss.backward()
        assert all(p.grad.dtype == torch.float32 for p in model.parameters() if p.grad is not None)
    for batch, big in ((512, True), (511, False)):  # the default, native: bf16 from 2,048 tokens a step on a CPU
        model, _ = make_model("transformer", cards, f"model.tabular.batch_size={batch}")
        with model.training_autocast():
            assert torch.is_autocast_enabled("cpu") == (big and bf16_native(torch.device("cpu"))), batch
    with pytest.raises(Exception, match="model.tabular.train_precision must be one of native, bf16, 32, got 'fp16'"):
        make_model("transformer", cards, "model.tabular.train_precision=fp16")  # (Hydra wraps the ValueError)


def test_a_transformer_trained_in_bf16_learns_what_float32_learns():
    """The same seed and data in bf16 and float32: the validation loss ends within 2 %, and the bf16
    model samples the learned col0 == col1 relation as often and every column's marginal as closely
    (to the data's, within 0.02 of float32's distance)."""
    data, models = equal_pair_table(), {}
    for precision in ("32", "bf16"):
        torch.manual_seed(0)  # the same initial weights (fit seeds the training itself)
        model, _ = make_model("transformer", [4, 4, 3], f"model.tabular.train_precision={precision}")
        trainer = fit(model, data, max_epochs=6)
        models[precision] = (model.eval(), float(trainer.callback_metrics["val_loss"]))
    (m32, loss32), (m16, loss16) = models["32"], models["bf16"]
    assert abs(loss16 - loss32) < 0.02 * loss32, (loss16, loss32)
    a, b = (m.sample(free(4000, 3), torch.Generator().manual_seed(0)) for m in (m32, m16))
    assert (b[:, 0] == b[:, 1]).float().mean() > 0.9 * (a[:, 0] == a[:, 1]).float().mean()
    for j, k in enumerate([4, 4, 3]):
        real, fa, fb = (torch.bincount(torch.as_tensor(s[:, j]), minlength=k) / len(s) for s in (data, a, b))
        assert (fb - real).abs().max() < (fa - real).abs().max() + 0.02, j


class _LossLog(Generator):
    """A module whose 'losses' are known functions of the batch: ours logged once an epoch, Lightning's
    reference logged per batch with on_epoch=True."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))

    def training_step(self, batch, batch_idx):
        x = batch[0].float()
        loss, other = x.mean() + self.w.sum(), (x**2).mean()
        self.log_train_losses(len(x), train_loss=loss, train_other=other)
        self.log("ref_loss", loss, on_step=False, on_epoch=True, batch_size=len(x))
        self.log("ref_other", other, on_step=False, on_epoch=True, batch_size=len(x))
        return loss

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)  # the loss falls 0.1 a step: epochs differ


def test_train_losses_logged_once_an_epoch_equal_lightnings_per_batch_epoch_means(tmp_path):
    """Batches of 4, 4 and 2 rows (weighted means), over three epochs, by the logger's own record."""
    import pandas as pd
    from pytorch_lightning.loggers import CSVLogger
    from torch.utils.data import DataLoader, TensorDataset

    data = DataLoader(TensorDataset(torch.arange(10.0) ** 1.5), batch_size=4, shuffle=True)
    module = _LossLog()
    calls = []
    original = module.log
    module.log = lambda name, *a, **k: (calls.append(name), original(name, *a, **k))[1]
    trainer = pl.Trainer(
        max_epochs=3,
        logger=CSVLogger(str(tmp_path)),
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        log_every_n_steps=1,
    )
    trainer.fit(module, train_dataloaders=data)
    logged = pd.read_csv(next(tmp_path.rglob("metrics.csv"))).groupby("epoch").max()
    assert len(logged) == 3 and logged["train_loss"].is_monotonic_decreasing
    np.testing.assert_allclose(logged["train_loss"], logged["ref_loss"], rtol=1e-6)
    np.testing.assert_allclose(logged["train_other"], logged["ref_other"], rtol=1e-6)
    assert calls.count("train_loss") == 3 and calls.count("ref_loss") == 9  # once an epoch, not per batch


@pytest.mark.parametrize("family", ALL)
def test_every_optimiser_steps_with_the_fused_kernel_on_cpu_in_float32_and_not_under_mixed_precision(family):
    def fused_flags(precision):
        model = make_model(family, [4, 4, 3])[0]
        fit(model, random_table([4, 4, 3], 300), max_epochs=1, limit_train_batches=2, precision=precision)
        return [bool(g.get("fused")) for opt in model.trainer.optimizers for g in opt.param_groups]

    assert fused_flags("32-true") == [True] * (2 if family == "gan" else 1)
    assert not any(fused_flags("bf16-mixed"))


def test_a_table_of_26_or_more_columns_samples_batch_major_and_reproducibly():
    """At the default threshold a 30-column row is cached batch-major; the same seed draws the same
    tokens (what byte-identical shards at any world size rest on) and fixed columns come back."""
    cards = [3, 5, 2, 4, 6] * 6
    torch.manual_seed(0)
    model, _ = make_model("transformer", cards, "model.tabular.sample_block=64")
    model.eval()
    assert (
        len(cards) >= blocks.BATCH_MAJOR_MIN_POSITIONS and model.trunk.new_cache(1, len(cards), model.bos).batch_major
    )
    cond = free(300, len(cards))
    cond[:100, 9] = 5  # a second pattern: column 9 (6 tokens) fixed
    first = model.sample(cond, torch.Generator().manual_seed(3))
    assert torch.equal(model.sample(cond, torch.Generator().manual_seed(3)), first)
    assert (first[:100, 9] == 5).all() and (first >= 0).all() and (first < torch.tensor(cards)).all()
