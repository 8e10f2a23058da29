"""Entities: a table of events with a key that repeats (`customer_id` on every order of the
customer), as a database or CRM exports them flattened.

Modelled as a category, such a key hands real keys on to the synthetic rows, each with the
attributes of its real entity (a real customer's tier and country, looked up from the key).
Instead the key is an `entity`: its real values are not modelled, and the generator writes fresh
keys (in the real keys' format, none equal to a real one) to groups of rows, where

- group sizes are drawn from the real rows-per-entity counts (clipped at their 99th percentile,
  so one outsized entity is not described);
- the entity's attributes, the columns that are constant within (nearly) every real entity
  (tier, country, date of birth), are those of one synthetic "head" row per group, and every row
  of the group is drawn with them fixed (the transformer generates them first; the GAN and VAE
  take the head's values as they are written); a constant fake name, e-mail or other key is the
  group's first row's on all its rows;
- the encoder models two more columns that are never written: each row's entity's row count
  (`rows per <key>`), so a head is drawn at its group's size (the transformer conditions on it, the
  GAN and VAE pick among free heads drawn at that size) and busy entities' attributes stay with
  busy entities; and, with a date column, the entity's first date (`first <date> per <key>`), an
  attribute, so its rows' dates cluster as a real customer's orders do (benchmarks/entities.md);
- rows of a group are consecutive in the output, counted by the entity's row counter (the
  transformer draws the k-th row given count k) or, without one, sorted by its order column,
  where the real file has them (find_sequence: a customer's orders in date order, numbered 1, 2,
  ...; in_sequence writes them);
- the holdout split keeps each entity whole (holdout_entities), and fresh keys avoid the holdout's.

The schema's `entity`: {"column": key, "attributes": [...], "sizes": [[size, count], ...],
"entities": number of real entities, "order", "index", "index_start", "ages": [...]}: an age
whose birth date is an attribute (a patient's, on every visit) leaves the schema's `ages`; the
birth date is modelled as an attribute and each row's age counted from it to the row's own date
(settle).

An entity key is found when `data.entity` names it, or (the default, `data.entity: auto`) for one
column with an id-like name ("customer_id", "PatientID", "user key") holding at least MIN_ENTITIES
values that repeat (ENTITY_MIN_MEAN_ROWS rows per value on average).
`data.entity: none` turns this off (the key is then modelled as any other column).

Output chunks end where a group ends, so each entity is drawn whole in one chunk: its head from
the chunk's own seeded stream, its attribute values written from its first row (a rare level or
a number drawn inside its bin comes out once per entity), the same on any number of processes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from synthgen.errors import SynthgenError

MIN_ENTITIES = 20  # fewer distinct keys than this: the key is a category (stores, branches)
ENTITY_MIN_MEAN_ROWS = 1.5  # rows per key on average: below it the key is nearly unique (an identifier)
ATTRIBUTE_MIN_SHARE = 0.99  # share of repeated entities in which a column holds one value
ORDER_MIN_SHARE = 0.99  # share of entities whose rows keep an order (or an index counts them)
SIZE_QUANTILE = 0.99  # group sizes are clipped here
MARK_MIN_SHARE = 0.99  # share of the entities with two rows or more whose marked value is on one row


def find(table: pa.Table, kinds: dict[str, str], setting, id_like) -> dict | None:
    """The table's entity key and its attributes, or None. `kinds`: column -> inferred kind;
    `setting`: data.entity ("auto", "none" or a column name); `id_like`: the name rule."""
    if setting in (None, "none", False):
        return None
    if setting != "auto":
        if setting not in kinds:
            raise SynthgenError(
                f"data.entity={setting!r} is not a column; the table has: {', '.join(table.column_names)}"
            )
        key = setting
        if kinds[key] not in ("categorical", "identifier", "integer"):
            raise SynthgenError(
                f"data.entity={key!r} is a {kinds[key]} column; an entity key is text or whole numbers "
                f"that repeat (set data.entity=none to turn entities off)"
            )
        codes = key_codes(table.column(key))
        if _mean_rows(codes) < ENTITY_MIN_MEAN_ROWS:
            raise SynthgenError(
                f"data.entity={key!r}: its values hardly repeat ({_mean_rows(codes):.2f} rows per value); "
                f"an entity key repeats on each of the entity's rows (set data.entity=none)"
            )
    else:
        candidates = (
            n for n in table.column_names if kinds[n] in ("categorical", "identifier", "integer") and id_like(n)
        )
        found = next(((n, c) for n in candidates if _repeats(c := key_codes(table.column(n)))), None)
        if found is None:
            return None
        key, codes = found
    attributes = _attributes(table, kinds, key, codes)
    sizes = np.bincount(codes[codes >= 0])
    cap = max(int(np.quantile(sizes, SIZE_QUANTILE)), 1)
    values, counts = np.unique(np.minimum(sizes, cap), return_counts=True)
    return {
        "column": key,
        "attributes": attributes,
        "sizes": [[int(v), int(c)] for v, c in zip(values, counts)],
        "entities": int(len(sizes)),
    }


def split_key(table: pa.Table, setting, id_like) -> str | None:
    """The column whose entities the holdout split keeps whole, before any schema exists: the one
    `data.entity` names, or (auto) the first id-like text or integer column whose values repeat as
    an entity key's do (find's rule; `id_like`: the name rule). None: rows are split one by one."""
    if setting in (None, "none", False):
        return None
    if setting != "auto":
        return setting if setting in table.column_names else None
    for name in table.column_names:
        t = table.schema.field(name).type
        t = t.value_type if pa.types.is_dictionary(t) else t
        key_type = pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_integer(t)
        if key_type and id_like(name) and _repeats(key_codes(table.column(name))):
            return name
    return None


def holdout_entities(table: pa.Table, key: str, share: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted (holdout, train) row indices with each entity's rows on one side: a seeded `share` of the
    entities held out (at least one), a row without a key an entity of its own. A row split put
    some of a patient's visits in the holdout and the rest in training: the holdout was then no
    unseen data for the privacy metrics, and an entity's row counter had gaps in both."""
    from synthgen.modalities import holdout_split  # its seeded stream (seeding.HOLDOUT_SPLIT), over entities

    codes = key_codes(table.column(key))
    n_keys = int(codes.max(initial=-1)) + 1
    codes = np.where(codes >= 0, codes, n_keys + np.arange(len(codes)))  # keyless rows: one each
    _, codes = np.unique(codes, return_inverse=True)
    held, _ = holdout_split(int(codes.max()) + 1, share, seed)
    hold = np.isin(codes, held)
    return np.flatnonzero(hold), np.flatnonzero(~hold)


def describe_entity(entity: dict) -> str:
    """The log line that says an entity was found and what becomes of it."""
    sizes = [s for s, _ in entity["sizes"]]
    attributes = ", ".join(entity["attributes"]) or "none"
    return (
        f"'{entity['column']}' is an entity key ({entity['entities']:,} entities, {min(sizes)}-{max(sizes)} rows "
        f"each; attributes: {attributes}): synthetic rows come in groups under fresh keys, none real "
        f"(data.entity=none models it as a plain column)"
    )


def key_codes(arr: pa.ChunkedArray) -> np.ndarray:
    """int64 [rows]: the key's dictionary code per row, -1 where null."""
    codes, _ = pd.factorize(pd.Series(arr.to_pandas()), use_na_sentinel=True)
    return np.asarray(codes, dtype=np.int64)


def _mean_rows(codes: np.ndarray) -> float:
    n = int(codes.max()) + 1 if len(codes) and codes.max() >= 0 else 0
    return float((codes >= 0).sum() / n) if n else 0.0


def _repeats(codes: np.ndarray) -> bool:
    """Enough distinct keys, each on enough rows on average, to be an entity key (from _codes)."""
    return int(codes.max(initial=-1)) + 1 >= MIN_ENTITIES and _mean_rows(codes) >= ENTITY_MIN_MEAN_ROWS


def _attributes(table: pa.Table, kinds: dict[str, str], key: str, codes: np.ndarray) -> list[str]:
    """Modelled columns holding one value (nulls counted as a value) in at least ATTRIBUTE_MIN_SHARE
    of the entities with two rows or more."""
    keep = codes >= 0
    sizes = np.bincount(codes[keep])
    repeated = sizes >= 2
    if not repeated.any():
        return []
    out = []
    # modelled columns, and those written at decode (fake names and e-mails, other keys, free text):
    # one customer, one name
    kept = ("categorical", "boolean", "integer", "continuous", "datetime", "pii", "text", "identifier")
    for name in table.column_names:
        if name == key or kinds[name] not in kept:
            continue
        values, _ = pd.factorize(pd.Series(table.column(name).to_pandas()), use_na_sentinel=False)
        frame = pd.DataFrame({"k": codes[keep], "v": np.asarray(values)[keep]})
        distinct = frame.groupby("k")["v"].nunique().to_numpy()
        if (distinct[repeated] == 1).mean() >= ATTRIBUTE_MIN_SHARE:
            out.append(name)
    return out


def _real_sequence(table: pa.Table, key: str, attributes: list[str], kinds: dict) -> dict:
    """find_sequence over the real rows of an evaluated table (its numeric and date columns)."""
    numeric = ("datetime", "integer", "continuous")
    native = {c: table.column(c) for c in table.column_names if kinds.get(c) in numeric and c != key}
    return find_sequence(table, {"column": key, "attributes": attributes}, native, kinds)


def _sequence_shares(syn: pd.DataFrame, key: str, seq: dict) -> dict:
    """The real entities' sequence (`seq`, find_sequence) kept by the synthetic ones: {"order": the
    share of synthetic entities whose rows keep the real order column's order, "counter": the share
    whose row counter counts their rows}, each where the real rows have one."""
    if not (seq["order"] or seq["index"]) or key not in syn.columns:
        return {}
    wanted = [c for c in dict.fromkeys((key, seq["order"], seq["index"])) if c and c in syn.columns]
    s = pa.Table.from_pandas(syn[wanted], preserve_index=False)
    rows, k = _grouped(s.column(key))
    shares = {}
    order = _float_values(s.column(seq["order"])) if seq["order"] in s.column_names else None
    if order is not None:
        share, n = _order_share(k, order[rows])
        shares.update({"order": share} if n else {})
    index = _float_values(s.column(seq["index"])) if seq["index"] in s.column_names else None
    if index is not None:
        share, n = _index_share(k, index[rows], seq["index_start"])
        shares.update({"counter": share} if n else {})
    return shares


def _marks_share(table: pa.Table, syn: pd.DataFrame, entity: dict, kinds: dict) -> float | None:
    """The lowest share, over the real entities' marks (find_marks), of synthetic entities with two
    rows or more holding the mark on exactly one row; None where the real rows have none."""
    key, shares = entity["column"], []
    for m in find_marks(table, entity, kinds):
        if m["column"] in syn.columns:
            flag = pd.DataFrame({"k": syn[key].to_numpy(), "m": (syn[m["column"]] == m["value"]).to_numpy()})
            g = flag.groupby("k")["m"]
            multi = (g.size() >= 2).to_numpy()
            if multi.any():
                shares.append(float((g.sum().to_numpy()[multi] == 1).mean()))
    return min(shares) if shares else None


def find_sequence(table: pa.Table, entity: dict, native: dict[str, pa.ChunkedArray], kinds: dict) -> dict:
    """How an entity's rows follow one another in the real file: {"order": a date (else number)
    column non-decreasing along each entity's rows, or None; "index": an integer column counting
    each entity's rows 0, 1, 2, ... or 1, 2, 3, ... in file order, or None; "index_start"}.

    An order holds in at least ORDER_MIN_SHARE of the entities with two distinct values of it or
    more, and at least MIN_ENTITIES of them (a single visit's date orders nothing); dates are tried
    first, in the table's order. An index counts the rows of at least ORDER_MIN_SHARE of the
    entities with two rows or more. Attributes take no part (constant within an entity)."""
    rows, key = _grouped(table.column(entity["column"]))
    taken = set(entity["attributes"]) | {entity["column"]}
    values = {n: v for n, v in ((n, _float_values(a)) for n, a in native.items() if n not in taken) if v is not None}
    candidates = [n for n in values if kinds.get(n) == "datetime"]
    candidates += [n for n in values if kinds.get(n) in ("integer", "continuous")]
    out = {"order": None, "index": None, "index_start": 1}
    # the counter first: one also orders the rows, and taken as the order it was left out of the
    # counters (statsmodels' modechoice: `mode` 1-4 on each traveller's rows came back in any order)
    counters = [c for c in candidates if kinds.get(c) == "integer"]
    for name, start in ((c, first) for c in counters for first in (1, 0)):
        share, n = _index_share(key, values[name][rows], start)
        if n >= MIN_ENTITIES and share >= ORDER_MIN_SHARE:
            out["index"], out["index_start"] = name, start
            break
    for name in (c for c in candidates if c != out["index"]):
        share, n = _order_share(key, values[name][rows])
        if n >= MIN_ENTITIES and share >= ORDER_MIN_SHARE:
            out["order"] = name
            break
    return out


def find_marks(table: pa.Table, entity: dict, kinds: dict) -> list[dict]:
    """Two-valued columns one value of which marks exactly one row of each entity: the alternative a
    traveller chose (statsmodels' modechoice: `choice` 1 on one of each traveller's 4 rows), a current
    or primary flag. [{"column", "value": the marking value, "other", "at": "first" | "last" where the
    marked row is the entity's first or last in file order, else None}], each holding in at least
    MARK_MIN_SHARE of at least MIN_ENTITIES entities with two rows or more; never a null column, nor
    the `entity`'s key, attributes, row counter ("index") or "order" (find_sequence)."""
    key = entity["column"]
    skip = {*entity.get("attributes", ()), entity.get("index"), entity.get("order")}
    rows, key_codes = _grouped(table.column(key))
    if not len(key_codes):
        return []
    sizes = np.bincount(key_codes)
    multi = sizes >= 2
    if multi.sum() < MIN_ENTITIES:
        return []
    first = np.r_[True, key_codes[1:] != key_codes[:-1]]
    last = np.r_[key_codes[1:] != key_codes[:-1], True]
    out = []
    for name in table.column_names:
        col = table.column(name)
        flag_kind = kinds.get(name) in ("boolean", "integer", "categorical")
        if name == key or name in skip or not flag_kind or col.null_count:
            continue
        values, levels = pd.factorize(pd.Series(col.to_pandas()))
        if len(levels) != 2:
            continue
        values = np.asarray(values)[rows]
        for v in sorted((0, 1), key=lambda v: (values == v).sum()):  # the rarer value is the mark
            marked = values == v
            if (np.bincount(key_codes, weights=marked, minlength=len(sizes))[multi] == 1).mean() < MARK_MIN_SHARE:
                continue
            at = None
            for where, edge in (("first", first), ("last", last)):
                on_edge = np.bincount(key_codes, weights=marked & edge, minlength=len(sizes))[multi] == 1
                at = where if on_edge.mean() >= MARK_MIN_SHARE else at
            out.append({"column": name, "value": _plain(levels[v]), "other": _plain(levels[1 - v]), "at": at})
            break
    return out


def mark_once(table: pa.Table, groups: np.ndarray, marks: list[dict], rng: np.random.Generator) -> pa.Table:
    """A chunk of whole entities (`groups` [n], ascending, rows in sequence) with each mark (find_marks)
    on exactly one row of each entity: its first or last row where the real entities hold it there;
    else one of the rows the model drew it on (their other values drawn beside it), or, where it drew
    none, one of the entity's rows, each uniformly."""
    n = len(groups)
    starts = np.r_[True, groups[1:] != groups[:-1]] if n else np.zeros(0, dtype=bool)
    ends = np.r_[groups[1:] != groups[:-1], True] if n else np.zeros(0, dtype=bool)
    for m in marks:
        if m["column"] not in table.column_names or not n:
            continue
        i = table.column_names.index(m["column"])
        if m["at"] in ("first", "last"):
            keep = starts if m["at"] == "first" else ends
        else:
            drawn = (table.column(i).to_pandas() == m["value"]).to_numpy()
            rank = rng.random(n) + np.where(drawn, 0.0, 2.0)  # the drawn rows first, then any
            keep = np.zeros(n, dtype=bool)
            keep[np.lexsort((rank, groups))[np.flatnonzero(starts)]] = True  # each group's lowest rank
        values = pa.array(np.where(keep, m["value"], m["other"]).tolist())
        typ = table.field(i).type
        values = values.dictionary_encode().cast(typ) if pa.types.is_dictionary(typ) else values.cast(typ)
        table = table.set_column(i, table.field(i), values)
    return table


def _plain(v):
    return v.item() if isinstance(v, np.generic) else v


def _float_values(arr: pa.ChunkedArray) -> np.ndarray | None:
    """A date, datetime or number column as float64 (dates in their integer units), NaN for null;
    None for any other type."""
    if pa.types.is_temporal(arr.type):
        from synthgen.schema import temporal_ints

        ints, null, _ = temporal_ints(arr)
        return np.where(null, np.nan, ints.astype(np.float64))
    if not (pa.types.is_integer(arr.type) or pa.types.is_floating(arr.type) or pa.types.is_decimal(arr.type)):
        return None  # text (a date the caller did not parse): no order read from it
    return arr.cast(pa.float64(), safe=False).fill_null(float("nan")).to_numpy()


def _grouped(key_arr: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """(rows with a key, grouped by key in file order; their key codes)."""
    codes = key_codes(key_arr)
    rows = np.flatnonzero(codes >= 0)
    rows = rows[np.argsort(codes[rows], kind="stable")]
    return rows, codes[rows]


def _order_share(key: np.ndarray, v: np.ndarray) -> tuple[float, int]:
    """(share of the entities holding two distinct set values whose values never decrease along their
    rows, how many such entities); rows grouped by `key` in file order, nulls skipped."""
    set_ = ~np.isnan(v)
    key, v = key[set_], v[set_]
    if len(v) < 2:
        return 1.0, 0
    back = np.zeros(int(key.max()) + 1, dtype=bool)
    back[key[1:][(key[1:] == key[:-1]) & (v[1:] < v[:-1])]] = True
    span = pd.Series(v).groupby(key).agg(["min", "max"])
    varied = span.index.to_numpy()[(span["max"] > span["min"]).to_numpy()]
    return (float((~back[varied]).mean()) if len(varied) else 1.0), len(varied)


def _index_share(key: np.ndarray, v: np.ndarray, start: int) -> tuple[float, int]:
    """(share of the entities with two rows or more whose values count their rows from `start` in
    file order, how many such entities); rows grouped by `key`."""
    if not len(key):
        return 1.0, 0
    first = np.r_[True, key[1:] != key[:-1]]
    position = np.arange(len(key)) - np.maximum.accumulate(np.where(first, np.arange(len(key)), 0))
    sizes = np.bincount(key)
    multi = sizes[key] >= 2
    wrong = np.zeros(len(sizes), dtype=bool)
    wrong[key[multi & (v != position + start)]] = True
    counted = np.unique(key[multi])
    return (float((~wrong[counted]).mean()) if len(counted) else 1.0), len(counted)


def in_sequence(table: pa.Table, groups: np.ndarray, schema, reorder: bool = True) -> pa.Table:
    """A settled chunk of whole entities (`groups` [n], ascending) with each entity's rows in
    sequence, as the real rows were (find_sequence). With a row counter, rows are sorted by their
    drawn count and counted 1, 2, ... (or from 0): the transformer draws the k-th row given count k,
    so its rows are already in count order; a row's date is then its own draw, which need not follow
    the count. Without one, rows are sorted by the order column (nulls last; ties in drawn order).
    Sorting by date and then counting gave every entity both, but on a 985-row visits table the
    k-th count then sat beside another row's date (dates of one synthetic entity are independent
    draws, not one patient's cluster): detection AUC 0.52 -> 0.61 (benchmarks/entities.md).
    `reorder=False` (rows a condition file fixes one by one, which stay where the file has them):
    the count only. Deterministic: the same bytes on any number of processes."""
    entity = schema.entity or {}
    index = entity.get("index") if entity.get("index") in table.column_names else None
    key = index or (entity.get("order") if entity.get("order") in table.column_names else None)
    v = _float_values(schema.to_native(table.select([key])).column(0)) if key else None
    if reorder and v is not None:
        perm = np.lexsort((np.where(np.isnan(v), np.inf, v), groups))
        table = table.take(pa.array(perm))
    if index:
        i = table.column_names.index(index)
        first = np.searchsorted(groups, groups, side="left")
        count = np.arange(len(groups)) - first + int(entity.get("index_start", 1))
        table = table.set_column(i, table.field(i), pa.array(count).cast(table.field(i).type))
    return table


def rows_column(key: str) -> str:
    """The name of the modelled column that holds each row's entity's row count (never written)."""
    return f"rows per {key}"


def rows_levels(entity: dict, names: list[str]) -> list[int] | None:
    """The row counts the rows column has a token for: the schema's clipped sizes, ascending; None
    where a real column already has its name."""
    if rows_column(entity["column"]) in names:
        return None
    return sorted(int(s) for s, _ in entity["sizes"])


def rows_tokens(codes: np.ndarray, levels: list[int]) -> np.ndarray:
    """int64 [n]: each row's entity's row count, from the key's codes (key_codes; -1, a null key:
    an entity of one row), as the token of the largest level at or below it (counts above the clip
    take the top level)."""
    counts = np.ones(len(codes), dtype=np.int64)
    known = codes >= 0
    counts[known] = np.bincount(codes[known])[codes[known]]
    return size_tokens(counts, levels)


def start_column(key: str, date: str) -> str:
    """The name of the modelled column that holds each row's entity's first `date` (never written)."""
    return f"first {date} per {key}"


def start_source(schema, candidates: list[str]) -> str | None:
    """The date column whose per-entity first value is modelled as an entity attribute: the one the
    entity's rows follow (find_sequence), else the first date column among `candidates` (modelled
    as themselves) that is not an attribute; None without one, or where its name is taken. A
    customer's orders fall in one stretch of time; drawn each on its own, a synthetic customer's
    orders spread over the whole year (benchmarks/entities.md)."""
    entity = schema.entity or {}
    if not entity:
        return None
    attributes = set(entity.get("attributes", ()))
    dates = [c for c in candidates if schema.column(c).kind == "datetime" and c not in attributes]
    order = entity.get("order")
    pick = order if order in dates else (dates[0] if dates else None)
    return pick if pick and start_column(entity["column"], pick) not in schema.names else None


def first_values(codes: np.ndarray, values: pa.ChunkedArray) -> pa.ChunkedArray:
    """Each row's entity's smallest value, from the key's codes (key_codes; nulls skipped; a null
    key: the row's own value)."""
    own, null = codes.copy(), np.flatnonzero(codes < 0)
    own[null] = codes.max(initial=-1) + 1 + np.arange(len(null))  # groups numbered 0 .. groups - 1
    # Arrow's grouped min: any orderable type (dates, timestamps with a zone), nulls skipped
    mins = pa.table({"g": own, "v": values}).group_by("g").aggregate([("v", "min")])
    by_group = mins.column("v_min").take(pc.sort_indices(mins.column("g")))
    return pa.chunked_array([by_group.combine_chunks().take(pa.array(own))])


def size_tokens(sizes: np.ndarray, levels: list[int]) -> np.ndarray:
    """int64 tokens of row counts `sizes`, as rows_tokens gives them."""
    return np.maximum(np.searchsorted(np.asarray(levels), sizes, side="right") - 1, 0).astype(np.int64)


class EntityRows:
    """Which group each output row belongs to: group sizes drawn from the real rows-per-entity
    counts with the run's seed until they cover n_rows (the last group cut to fit)."""

    def __init__(self, entity: dict, n_rows: int, rng: np.random.Generator):
        sizes = np.array([s for s, _ in entity["sizes"]], dtype=np.int64)
        weights = np.array([c for _, c in entity["sizes"]], dtype=np.float64)
        mean = float((sizes * weights).sum() / weights.sum())
        drawn = np.zeros(0, dtype=np.int64)
        while drawn.sum() < n_rows:  # at most a few rounds: each draws the expected count and a margin
            more = int((n_rows - drawn.sum()) / mean * 1.1) + 16
            drawn = np.concatenate([drawn, rng.choice(sizes, size=more, p=weights / weights.sum())])
        ends = np.cumsum(drawn)
        last = int(np.searchsorted(ends, n_rows, side="left"))
        self.starts = np.concatenate([[0], ends[:last]])  # first row of each group, [groups]
        self.n_groups = last + 1

    def sizes(self, n_rows: int) -> np.ndarray:
        """int64 [groups]: each group's row count (the last one as cut to fit n_rows)."""
        return np.diff(np.append(self.starts, n_rows))

    def groups(self, start: int, n: int) -> np.ndarray:
        """int64 [n]: the group of rows start .. start + n - 1."""
        return np.searchsorted(self.starts, np.arange(start, start + n), side="right").astype(np.int64) - 1

    def chunks(self, n_rows: int, chunk_rows: int) -> list[tuple[int, int, int]]:
        """(chunk index, first row, row count) as data.plan_chunks gives them, but ending only where a
        group ends (a group longer than chunk_rows is a chunk of its own): a chunk holds whole
        entities, so their heads and values are drawn where their rows are."""
        ends = np.append(self.starts[1:], n_rows)
        out, start = [], 0
        while start < n_rows:
            # the last group end at most chunk_rows past start, or the first one after it
            k = int(np.searchsorted(ends, start + chunk_rows, side="right")) - 1
            end = int(ends[k]) if k >= 0 and ends[k] > start else int(ends[np.searchsorted(ends, start, side="right")])
            out.append((len(out), start, end - start))
            start = end
        return out


def settle(table: pa.Table, groups: np.ndarray, attributes: list[str], schema) -> pa.Table:
    """A decoded chunk of whole entities (`groups` [n], ascending) with each entity's attribute values
    its first row's, and an age whose birth date is one of them counted again from it to each row's
    own later date (a patient's date of birth is one, the age at each visit follows it)."""
    from synthgen.ages import calendar_age
    from synthgen.schema import temporal_ints, unit_ratio

    first = pa.array(np.searchsorted(groups, groups, side="left"))
    for name in attributes:
        i = table.column_names.index(name)
        table = table.set_column(i, table.field(i), table.column(i).take(first))
    for age in (schema.entity or {}).get("ages", []):
        name, born, at = age["column"], age["born"], age["at"]
        if schema.column(name).codec or name not in table.column_names:
            continue
        native = schema.to_native(table.select([born, at]))
        days = []
        for j in range(2):
            ints, null, unit = temporal_ints(native.column(j))
            days.append((ints // unit_ratio("D", unit) if unit != "D" else ints, null))
        (b, b_null), (a, a_null) = days
        i = table.column_names.index(name)
        old = table.column(i)
        missing = old.is_null().to_numpy(zero_copy_only=False)
        keep = missing | b_null | a_null  # where a date is missing the drawn age stays
        n = np.where(keep, pc.fill_null(old, 0).to_numpy(zero_copy_only=False), calendar_age(b, a))
        table = table.set_column(i, table.field(i), pa.array(n, mask=missing).cast(table.field(i).type))
    return table


def scores(
    train: pd.DataFrame, syn: pd.DataFrame, kinds: dict[str, str], holdout: pd.DataFrame | None = None
) -> dict[str, float]:
    """For each identifier column whose real values repeat like an entity key's:
    `fidelity.entity_sizes.<key>`, 1 - the total variation distance between the real and synthetic
    rows-per-entity counts (each clipped at the real 99th percentile), and
    `fidelity.entity_attributes.<key>`, the share of synthetic entities with two rows or more whose
    attributes (columns constant within the real entities) hold one value, the lowest over the
    attributes; where the real entities' rows follow a date (or number) order or carry a row
    counter (find_sequence), `fidelity.entity_order.<key>` / `fidelity.entity_counter.<key>`: the
    share of synthetic entities keeping it; where a flag marks one row of each real entity
    (find_marks), `fidelity.entity_marks.<key>`: the share of synthetic entities with it on one row;
    `fidelity.entity_shape.<key>`: the attributes' mean of _entity_shape, the mix of entities (a
    fleet's plane models) rather than of rows (their flights); `fidelity.entity_shape_holdout`: the
    real holdout's own (its entities are a sample too); `fidelity.entity_spans.<key>`: the lowest
    over the date columns (not attributes) of _entity_spans, with `fidelity.entity_spans_holdout`.
    `fidelity.entity_sizes` / `_attributes` / `_shape` / `_order` / `_counter` / `_marks`: the lowest
    over the keys (1 is ideal)."""
    out, lowest = {}, {}  # figure -> each key's value; `fidelity.<figure>` is their lowest
    keys = [c for c, k in kinds.items() if k == "identifier" and c in syn.columns and c in train.columns]
    table = pa.Table.from_pandas(train, preserve_index=False) if keys else None  # once, for every key
    for key in keys:
        codes = key_codes(table.column(key))
        if not _repeats(codes):
            continue
        real_sizes = np.bincount(codes[codes >= 0])
        cap = max(int(np.quantile(real_sizes, SIZE_QUANTILE)), 1)

        def histogram(counts):
            counts = np.minimum(counts, cap)
            return np.bincount(counts, minlength=cap + 1)[: cap + 1] / max(len(counts), 1)

        syn_sizes = syn[key].value_counts(dropna=True).to_numpy()
        fit = float(1 - 0.5 * np.abs(histogram(real_sizes) - histogram(syn_sizes)).sum())
        out[f"fidelity.entity_sizes.{key}"] = fit
        lowest.setdefault("entity_sizes", []).append(fit)
        shares = []
        attributes = _attributes(table, {c: kinds.get(c, "") for c in table.column_names}, key, codes)
        for a in attributes:
            if a not in syn.columns:
                continue
            values, _ = pd.factorize(syn[a], use_na_sentinel=False)  # a null is a value of its own
            g = pd.DataFrame({"k": syn[key].to_numpy(), "v": values}).groupby("k")["v"]
            multi = (g.size() >= 2).to_numpy()
            if multi.any():
                shares.append(float((g.nunique().to_numpy()[multi] == 1).mean()))
        if shares:
            out[f"fidelity.entity_attributes.{key}"] = min(shares)
            lowest.setdefault("entity_attributes", []).append(min(shares))
        dates = [c for c, k in kinds.items() if k == "datetime" and c not in attributes and c in syn.columns]
        spans = [v for v in (_entity_spans(train, syn, key, c) for c in dates) if v is not None]
        if spans:
            out[f"fidelity.entity_spans.{key}"] = min(spans)
            lowest.setdefault("entity_spans", []).append(min(spans))
            if holdout is not None and key in holdout.columns and len(holdout):
                own = [v for v in (_entity_spans(train, holdout, key, c) for c in dates) if v is not None]
                if own:
                    lowest.setdefault("entity_spans_holdout", []).append(min(own))
        mix = [_entity_shape(train, syn, key, a) for a in attributes if a in syn.columns]
        if mix:
            out[f"fidelity.entity_shape.{key}"] = float(np.mean(mix))
            lowest.setdefault("entity_shape", []).append(float(np.mean(mix)))
            if holdout is not None and key in holdout.columns and len(holdout):
                own = [_entity_shape(train, holdout, key, a) for a in attributes if a in syn.columns]
                lowest.setdefault("entity_shape_holdout", []).append(float(np.mean(own)))
        seq = _real_sequence(table, key, attributes, kinds)  # once for the sequence and the marks
        parts = _sequence_shares(syn, key, seq)
        marked = _marks_share(table, syn, {"column": key, "attributes": attributes, **seq}, kinds)
        for part, share in {**parts, **({"marks": marked} if marked is not None else {})}.items():
            out[f"fidelity.entity_{part}.{key}"] = share
            lowest.setdefault(f"entity_{part}", []).append(share)
    out.update({f"fidelity.{figure}": min(values) for figure, values in lowest.items()})
    return out


def _entity_shape(train: pd.DataFrame, syn: pd.DataFrame, key: str, column: str) -> float:
    """1 - the total variation distance between the real and the synthetic entities' values of an
    attribute, one value per entity (its first row's): the mix of customers, not of their orders.
    Numbers and dates in 10 bins at the real entities' deciles, a null a value of its own."""
    return _binned_fit(*(df.groupby(key, sort=False)[column].first() for df in (train, syn)))


def _entity_spans(train: pd.DataFrame, syn: pd.DataFrame, key: str, column: str) -> float | None:
    """1 - the total variation distance between the real and the synthetic entities' spans of a date
    column (last minus first, entities of two rows or more), in 10 bins at the real spans' deciles:
    a customer's orders within weeks, not over the year. None without such real entities."""

    def spans(df):
        t = pd.to_datetime(df[column], errors="coerce")
        g = t.groupby(df[key].to_numpy(), sort=False)
        span = (g.max() - g.min()).dt.total_seconds()
        return span[(g.size() >= 2).to_numpy()]

    real, fake = spans(train), spans(syn)
    return _binned_fit(real, fake) if len(real) and len(fake) else None


def _binned_fit(real: pd.Series, fake: pd.Series) -> float:
    """1 - the total variation distance between two samples of one column: numbers and dates in 10
    bins at the real sample's deciles, other values as they are, a null a value of its own."""
    if pd.api.types.is_numeric_dtype(real) or pd.api.types.is_datetime64_any_dtype(real):
        r, f = (_as_float(v) for v in (real, fake))
        edges = np.unique(np.nanquantile(r, np.linspace(0, 1, 11)[1:-1])) if np.isfinite(r).any() else []
        real, fake = (pd.Series(np.where(np.isnan(v), -1, np.searchsorted(edges, v))) for v in (r, f))
    p = real.astype(str).value_counts(normalize=True, dropna=False)
    q = fake.astype(str).value_counts(normalize=True, dropna=False)
    return float(1 - 0.5 * p.sub(q, fill_value=0).abs().sum())


def _as_float(values: pd.Series) -> np.ndarray:
    """float [n] of numbers or dates (nanoseconds), NaN where null or not a number."""
    if values.dtype.kind == "M":
        out = values.to_numpy(dtype="datetime64[ns]").astype(np.int64).astype(float)
        return np.where(values.isna().to_numpy(), np.nan, out)
    return pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
