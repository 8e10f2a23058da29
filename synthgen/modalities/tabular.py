"""Tables: Parquet/CSV in, Parquet shards out; the shared token layout feeds every family."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.parquet as pq

from synthgen.artifacts import check_synthetic, load_artifact, read_parquet
from synthgen.conversions import describe_conversion
from synthgen.entities import describe_entity, holdout_entities, split_key
from synthgen.errors import SynthgenError
from synthgen.io import read_table, staged_dir, write_parquet_atomic
from synthgen.modalities import GenerationPlan, Modality, holdout_split, plain
from synthgen.schema import TableSchema, id_like_name, infer_schema
from synthgen.totals_row import drop_totals_row
from synthgen.tracking import RunLog

if TYPE_CHECKING:
    import pytorch_lightning as pl

    from synthgen.encoders import TabularEncoder
    from synthgen.sizing import TableSize

log = logging.getLogger("synthgen")


def _log_columns(schema: TableSchema) -> None:
    """How each column was read (synthgen/schema_report.py), for a look before training."""
    from synthgen.schema_report import column_lines

    log.info("columns as read (data.columns.<name>.kind=... reads one otherwise):\n%s", "\n".join(column_lines(schema)))


class TabularModality(Modality):
    name, unit = "tabular", "rows"

    # ---- prepare / encode ----------------------------------------------------------------------
    def split(self) -> tuple[pa.Table, pa.Table, TableSchema]:
        """(train, holdout, schema) from data.path and data.holdout_path or data.holdout_share, in memory."""
        cfg = self.cfg
        sheet = cfg.data.get("sheet")
        table = drop_totals_row(read_table(cfg.data.path, cfg.data.max_rows, sheet=sheet), str(cfg.data.path))
        if cfg.data.holdout_path:
            holdout = drop_totals_row(read_table(cfg.data.holdout_path, sheet=sheet), str(cfg.data.holdout_path))
            holdout = _conform(holdout, table.schema, cfg.data.holdout_path)
            train = table
        else:  # an entity's rows (a customer's orders) stay on one side: synthgen/entities.py
            key = split_key(table, cfg.data.get("entity", "none"), id_like_name)
            if key is None:
                hold, keep = holdout_split(len(table), cfg.data.holdout_share, cfg.seed)
            else:
                hold, keep = holdout_entities(table, key, cfg.data.holdout_share, cfg.seed)
                log.info("holdout: whole '%s' entities, %d of %d rows", key, len(hold), len(table))
            holdout, train = table.take(hold), table.take(keep)
        schema = infer_schema(
            train,
            plain(cfg.data.columns),
            source=f"{cfg.data.path} (training split)",
            entity=cfg.data.get("entity", "none"),
        )
        schema.check_modelled(str(cfg.data.path))
        for col in ([cfg.data.target] if cfg.data.target is not None else []) + list(cfg.data.sensitive or []):
            schema.column(col)  # one-line error for an unknown column
        return train, holdout, schema

    def prepare(self) -> None:
        cfg, paths = self.cfg, self.paths
        from synthgen.streaming import stream_prepare, wants_streaming

        if wants_streaming(cfg):  # record batches, Parquet parts, a seeded sample (synthgen/streaming.py)
            with staged_dir(paths.prepared) as d:
                info = stream_prepare(cfg, d)
            log.info(
                "prepared %d train and %d holdout rows (streamed, %d parts) in %s",
                info["train_rows"],
                info["holdout_rows"],
                len(info["train_parts"]),
                paths.prepared,
            )
            _log_columns(TableSchema.load(paths.schema))
            return
        train, holdout, schema = self.split()
        with staged_dir(paths.prepared) as d:
            write_parquet_atomic(train, d / "train.parquet")
            write_parquet_atomic(holdout, d / "holdout.parquet")
            schema.save(d / "schema.json")
        log.info("prepared %d train and %d holdout rows in %s", len(train), len(holdout), paths.prepared)
        _log_columns(schema)
        if schema.entity:
            log.info("%s", describe_entity(schema.entity))
        for cv in schema.conversions:
            log.info("%s", describe_conversion(cv))

    def encode(self) -> None:
        from synthgen import shards
        from synthgen.encoders import TabularEncoder
        from synthgen.privacy import privacy_config
        from synthgen.sizing import n_bins

        pcfg = privacy_config(self.cfg)
        settings = plain(self.cfg.encoder)
        if self._streamed():  # encoder fitted on the sample, tokens written as shards (synthgen/shards.py)
            if pcfg.enabled:
                raise SynthgenError(
                    "privacy.epsilon is not supported for streamed tables yet; "
                    "set stream.enabled=false (the table must fit in memory)"
                )
            if settings.get("n_bins") == "auto":  # streamed tables are large: the rule's upper end
                settings["n_bins"] = n_bins(10**9)
            shards.stream_encode(self.cfg, self.paths, settings)
            return
        shards.remove_stale(self.paths)
        schema = load_artifact(self.paths.schema, "schema", "prepare", TableSchema.load)
        train = read_parquet(self.paths.train_table, "prepare")
        holdout = read_parquet(self.paths.holdout_table, "prepare")  # fresh keys and fakes avoid its values too
        if settings.get("n_bins") == "auto":  # follows the training rows (synthgen/sizing.py)
            settings["n_bins"] = n_bins(train.num_rows)
        if pcfg.enabled:  # the saved state from DP mechanisms or declared public domains
            from synthgen.encoders.dp_stats import fit_dp_encoder
            from synthgen.sizing import AUTO, CATEGORY_CAP

            if settings.get("max_categories") == AUTO:  # the rule reads real level counts: its floor
                settings["max_categories"] = CATEGORY_CAP[0]

            columns = plain(self.cfg.data.columns)
            enc = fit_dp_encoder(train, schema, settings, columns, pcfg, self.cfg.seed, avoid=holdout)
        else:
            enc = TabularEncoder.fit(train, schema, **settings, avoid=holdout)
        with staged_dir(self.paths.encoder_dir) as d:
            enc.save(d / "encoder.json")
        shards.encoded_dir(self.paths).mkdir(exist_ok=True)  # empty: the DVC encode stage's output either way
        log.info("encoder: %d modelled columns, vocabulary sizes %s", len(enc.layout.columns), enc.layout.cardinalities)

    def _streamed(self) -> bool:
        from synthgen.streaming import read_stream_info

        return read_stream_info(self.paths.prepared) is not None

    def load_encoder(self) -> TabularEncoder:
        from synthgen.encoders import TabularEncoder

        return load_artifact(self.paths.encoder, "encoder state", "encode", TabularEncoder.load)

    # ---- train -----------------------------------------------------------------------------------
    def table_size(self, enc: TabularEncoder) -> TableSize:
        import pyarrow.dataset as ds

        from synthgen.sizing import TableSize

        cards = enc.layout.cardinalities
        rows = ds.dataset(
            self.paths.train_table, format="parquet"
        ).count_rows()  # a file, or a streamed folder of parts
        return TableSize(rows, len(cards), int(sum(cards)))

    def datamodule(self, enc: TabularEncoder, model: pl.LightningModule, val_share: float) -> pl.LightningDataModule:
        from synthgen.data import TokenDataModule

        if self._streamed():
            from synthgen.shards import shard_datamodule

            return shard_datamodule(
                self.paths, model.batch_size, val_share, self.cfg.seed, self.cfg.stream.val_max_rows
            )
        tokens = enc.encode(read_parquet(self.paths.train_table, "prepare"))
        return TokenDataModule(tokens, model.batch_size, val_share, self.cfg.seed)

    def train_callbacks(self, enc: TabularEncoder) -> list[pl.Callback]:
        return []

    # ---- generate --------------------------------------------------------------------------------
    def generation(self, enc: TabularEncoder, staging: Path) -> GenerationPlan:
        import torch

        from synthgen import entities, seeding
        from synthgen.conditions import RowConditions
        from synthgen.data import plan_chunks
        from synthgen.entities import EntityRows
        from synthgen.writers.table import TableChunkWriter

        g = self.cfg.generate
        chunk_rows = int(g.chunk_rows)
        if chunk_rows < 1:
            raise SynthgenError("generate.chunk_rows must be positive")
        condition = plain(g.condition) or {}
        rows = RowConditions(
            enc, g.n_rows, condition, g.get("condition_file"), plain(g.get("rebalance")) or {}, self.cfg.seed
        )
        dp = self._privacy_report()
        # Under DP nothing after training reads real rows: the copy redraw would (privacy/__init__.py).
        redraw = g.get("redraw_copies", True) and dp is None
        # entity groups (synthgen/entities.py); not under DP, whose schema.json sizes are real counts
        entity = enc.schema.entity if dp is None else None
        groups = (
            EntityRows(entity, rows.n_rows, seeding.numpy_rng(seeding.ENTITY_SIZES, self.cfg.seed)) if entity else None
        )
        writer = TableChunkWriter(
            staging,
            enc,
            self.cfg.seed,
            rows.fix_values if rows.active else None,
            self._copy_guard(enc) if redraw else None,
            entity["attributes"] if groups else (),
        )
        info = {**rows.info, **({"privacy": {**dp, "redraw_copies": False}} if dp else {})}
        if groups is not None:
            info["entities"] = {"column": entity["column"], "groups": groups.n_groups}
            # the head's values written on each of its rows: the attributes and the entity's first date
            names = [*entity["attributes"], *([enc.start_column] if enc.start_column else [])]
            attributes = torch.tensor(
                [enc.layout.columns.index(a) for a in names if a in enc.layout.columns], dtype=torch.long
            )
            counter = _counter_tokens(enc, entity)
            # each group's row count as the rows column's token: heads and rows drawn given their
            # entity's size (a busy plane's model is not an idle one's; synthgen/entities.py)
            size_tokens = entities.size_tokens(groups.sizes(rows.n_rows), enc.entity_rows) if enc.rows_column else None

            def cond_for_chunk(chunk, start, n):
                where = groups.groups(start, n)
                sizes = {}
                if size_tokens is not None:
                    sizes = {
                        "rows": torch.tensor([enc.layout.columns.index(enc.rows_column)], dtype=torch.long),
                        "rows_tokens": torch.from_numpy(size_tokens[where]),
                    }
                return {
                    "cond": rows.tokens(start, n),
                    "groups": torch.from_numpy(where),
                    "attributes": attributes,
                    **counter,
                    **sizes,
                }
        else:

            def cond_for_chunk(chunk, start, n):
                return rows.tokens(start, n)

        chunks = groups.chunks(rows.n_rows, chunk_rows) if groups else plan_chunks(rows.n_rows, chunk_rows)
        return GenerationPlan(chunks, cond_for_chunk, writer, info)

    def _privacy_report(self) -> dict | None:
        """The model's DP spend (model/privacy.json), or None for a model trained without DP."""
        from synthgen.privacy.training import read_report

        return read_report(self.paths)

    def _copy_guard(self, enc):
        from synthgen.copies import CopyGuard, guarded_positions

        if self._streamed():  # the hash indexes built at encode time
            from synthgen.shards import ShardCopyGuard

            return ShardCopyGuard(self.paths, enc)
        train = read_parquet(self.paths.train_table, "prepare")
        return CopyGuard(
            train,
            enc.encode(train),
            enc.written_columns,  # the columns the tokens write (an entity's rows column is not one)
            read_parquet(self.paths.holdout_table, "prepare"),
            token_columns=guarded_positions(enc),
        )

    def finish_generation(self, plan: GenerationPlan, staging: Path) -> dict:
        return plan.writer.finish(plan.chunks, plan.info)

    def generation_log(self, manifest: dict) -> RunLog:
        preview = pq.read_table(self.paths.synthetic / manifest["files"][0]["path"]).slice(0, 100).to_pandas()
        return RunLog(texts={"synthetic_preview.csv": preview.to_csv(index=False)})

    # ---- evaluate --------------------------------------------------------------------------------
    def evaluate(self) -> tuple[dict, bool, str]:
        from synthgen.evaluate import EvalConfig, check_gate, evaluate_tables, write_evaluation

        cfg, paths = self.cfg, self.paths
        if paths.synthetic_file is not None:  # a table from any tool, scored against data.path as it is now
            train, holdout, schema = self.split()
            synthetic = conform_synthetic(
                read_table(paths.synthetic_file, key="synthetic.path", training=False),
                train.schema,
                paths.synthetic_file,
            )
            # string dates, formatted numbers and yes/no words compared as the values they stand for
            train_df, holdout_df, synthetic_df = (schema.to_native(t).to_pandas() for t in (train, holdout, synthetic))
        else:
            schema = load_artifact(paths.schema, "schema", "prepare", TableSchema.load)
            if not (paths.synthetic / "_manifest.json").exists():
                raise SynthgenError(f"no synthetic data at {paths.synthetic}; run `synthgen generate` first")
            manifest = check_synthetic(paths.synthetic)  # every shard present, with the hash recorded
            if self._streamed():  # the seeded samples of both splits that prepare kept (evaluate.max_rows rows)
                from synthgen.streaming import HOLDOUT_SAMPLE_FILE, SAMPLE_FILE

                n = int(cfg.evaluate.max_rows)
                train_df = schema.to_native(pq.read_table(paths.prepared / SAMPLE_FILE).slice(0, n)).to_pandas()
                holdout_df = schema.to_native(
                    pq.read_table(paths.prepared / HOLDOUT_SAMPLE_FILE).slice(0, n)
                ).to_pandas()
            else:
                train_df = schema.to_native(read_parquet(paths.train_table, "prepare")).to_pandas()
                holdout_df = schema.to_native(read_parquet(paths.holdout_table, "prepare")).to_pandas()
            synthetic_df = schema.to_native(self._synthetic_sample(manifest)).to_pandas()
        settings = {k: v for k, v in plain(cfg.evaluate).items() if k not in ("images", "out_dir")}
        ecfg = EvalConfig.from_mapping(
            {
                **settings,
                "target": cfg.data.target,
                "sensitive": list(cfg.data.sensitive or []),
                "seed": cfg.seed,
                "identifying": schema.identifying_groups(),
                "entity": (schema.entity or {}).get("column"),
                "treatment": treatment(schema),
            }
        )
        kinds = schema.kinds()
        result = evaluate_tables(train_df, holdout_df, synthetic_df, kinds, ecfg)
        dp = self._privacy_report()
        if dp:  # the model's DP spend, next to the empirical privacy metrics
            from synthgen.privacy.training import report_metrics

            result.update(report_metrics(dp))
        write_evaluation(result, train_df, holdout_df, synthetic_df, kinds, ecfg, paths.evaluation)
        passed, reason = check_gate(result, ecfg)
        return result, passed, reason

    def _synthetic_sample(self, manifest: dict):
        """The generated table, whole when it has at most evaluate.max_rows rows; else a seeded
        sample of that many rows read part by part (streaming.read_parquet_sample), never the whole
        set: the metrics subsample to evaluate.max_rows anyway, and validity, date and copy checks
        are then shares of the sample."""
        from synthgen.streaming import read_parquet_sample

        files = [self.paths.synthetic / f["path"] for f in manifest["files"]]
        cap = int(self.cfg.evaluate.max_rows)
        if sum(pq.ParquetFile(f).metadata.num_rows for f in files) <= cap:
            return pq.read_table(self.paths.synthetic)
        return read_parquet_sample(files, cap, int(self.cfg.seed))


def treatment(schema: TableSchema) -> dict[str, str]:
    """What synthgen does with each column it does not model, in words (report, README)."""
    out = {}
    for c in schema.columns:
        if c.kind == "pii":
            out[c.name] = f"personal data ({c.pii}): fake values from Faker, one fake person per row, never copied"
        elif c.kind == "identifier":
            out[c.name] = "identifier: fresh keys in the real format, never a real key"
        elif c.kind == "text":
            out[c.name] = "free text: fake text (Faker lorem) at the real lengths, never copied"
        elif c.kind == "empty":
            out[c.name] = "entirely null: carried through as nulls"
    return out


def _conform(table: pa.Table, schema: pa.Schema, source) -> pa.Table:
    """The holdout must have the training columns; cast it to their types."""
    from synthgen.io import conform_columns

    return conform_columns(
        table,
        schema,
        f"{source}: holdout lacks column(s) {{missing}} of the training table",
        f"{source}: holdout columns do not match the training types ({{error}})",
    )


def conform_synthetic(table: pa.Table, schema: pa.Schema, source) -> pa.Table:
    """Another tool's synthetic table, matched to the real columns by name, in the real order, each
    cast to the real type where its values allow (CSV numbers read as text, ints for floats...).

    A column that cannot be cast is kept as it is (the metrics read numbers and categories from any
    type; validity counts the type difference); missing and extra columns are kept out and in, so
    validity.schema_mismatches counts them. No column in common is an error.
    """
    common = [f for f in schema if f.name in table.column_names]
    if not common:
        raise SynthgenError(
            f"{source}: no column of the real table ({', '.join(schema.names[:8])}...) is in it; "
            f"columns are matched by name"
        )
    cols, names = [], []
    for f in common:
        col = table.column(f.name)
        try:
            col = col.cast(f.type)  # safe cast: 1.5 does not become 1
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
            log.warning(
                "%s: column '%s' (%s) does not cast to the real type %s; scored as it is",
                source,
                f.name,
                col.type,
                f.type,
            )
        cols.append(col)
        names.append(f.name)
    extra = [n for n in table.column_names if n not in schema.names]
    return pa.table(cols + [table.column(n) for n in extra], names=names + extra)


def _counter_tokens(enc, entity: dict) -> dict:
    """The entity's row counter as generation conditions (synthgen/entities.py find_sequence): its
    column in the layout ("counter" [1]) and the token of each position's count, 1st row on
    ("counter_tokens" [largest group]); {} without one. The transformer draws the k-th row of a
    group given count k, so each row holds what real k-th rows hold and the count it is written
    with (on a 985-row visits split: pair trends 0.916 -> 0.932, shape 0.947 -> 0.970, the counts
    counting in every entity; benchmarks/entities.md)."""
    import torch

    name = entity.get("index")
    if not name or name not in enc.layout.columns:
        return {}
    largest = max(s for s, _ in entity["sizes"])
    start = int(entity.get("index_start", 1))
    codec = enc.codecs[name]
    tokens = [codec.token_of(start + k) for k in range(largest)]
    return {
        "counter": torch.tensor([enc.layout.columns.index(name)], dtype=torch.long),
        "counter_tokens": torch.tensor(tokens, dtype=torch.long),
    }
