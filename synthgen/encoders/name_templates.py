"""Fresh names in the real names' wording: airports' "Alva Regional" -> "Hernandez Regional".

A near-unique column of short names of things (airports, stores, products, streets) is an
identifier with no key shape (tabular._id_format), and came back as counter keys
("name-syn-000000001"). Where most values are words (WORDY_SHARE of them: up to MAX_WORDS runs of
letters, digits only as words of their own and fewer than the letters, between spaces or
punctuation; MIN_SPACED of them with a space between two words), each value's wording becomes a
template: a word seen in at least MIN_VALUES different values stays as written ("Regional",
"County", "Municipal"); every other word becomes a slot, kept as its kind ("t" a Title-case word,
"u" an UPPER one, "l" a lower one, "d3" a 3-digit number): "Dean Griffin Memorial" ->
["", "t", " ", "t", " Memorial"] (text and slots alternating). A new name draws a template by its
real frequency and fills its slots with Faker surnames in the slot's case and with random digits.

The model file holds the templates (frequent words and separators only) and hashes of the real
names (as for personal data, synthgen/pii.py), never a name: a new name equal to a real one
(case-folded) is drawn again, up to TRIES times; the rows still equal get the counter format.
Names need not be unique (the real ones are not: airports hold 2,610 names over 2,701 rows).
"""

from __future__ import annotations

import re
from collections import Counter

import numpy as np
import pyarrow as pa

from synthgen import pii

WORDY_SHARE = 0.9  # values whose words are letters (or digits standing alone, fewer), one of 2+ letters
MIN_SPACED = 0.3  # values with a space between two words: names are written in words, codes ("k-syn-12") not
MIN_VALUES = 5  # a word kept as written appears in at least this many different values
SAMPLE = 20_000  # values read for the templates (as key_shapes.SAMPLE)
MAX_TEMPLATES = 2_000  # the most frequent templates kept (each a few words)
MAX_WORDS = 8  # values of more words are text, not names
TRIES = 5
_TOKEN = re.compile(r"([^\W_]+)")  # words: runs of letters and digits; the rest separates them


def name_templates(valid: pa.Array) -> dict | None:
    """{"templates": [...], "counts": [...], "real": hashes} for a string column's non-null values,
    or None when fewer than WORDY_SHARE of them are words (codes, free text)."""
    if not len(valid):
        return None
    # the wording from at most SAMPLE values spread over the column; the hashes from every value
    sample = valid.take(np.linspace(0, len(valid) - 1, min(len(valid), SAMPLE)).astype(np.int64))
    values = [v for v in sample.to_pylist() if v]
    if not values:
        return None
    split = [_TOKEN.split(v) for v in values]  # [sep, word, sep, word, ..., sep]
    wordy = [s for s in split if _wordy(s[1::2])]
    spaced = sum(1 for s in wordy if any(" " in sep for sep in s[2:-1:2]))  # a space between two words
    if len(wordy) < WORDY_SHARE * len(values) or spaced < MIN_SPACED * len(values):
        return None
    seen = Counter(w.casefold() for s in set(map(tuple, split)) for w in set(s[1::2]))
    keep = {w for w, k in seen.items() if k >= MIN_VALUES and not w.isdigit()}
    # a template without a slot is a real name's whole wording: it could only write that name
    templates = Counter(t for t in (_template(s, keep) for s in wordy) if len(t) > 1)
    if not templates:
        return None
    common = templates.most_common(MAX_TEMPLATES)
    return {
        "templates": [list(t) for t, _ in common],
        "counts": [k for _, k in common],
        "real": pii.pack(pii.value_hashes(valid.to_pandas())),
    }


def _wordy(words: list[str]) -> bool:
    letters = sum(len(w) for w in words if w.isalpha())
    return (
        0 < len(words) <= MAX_WORDS
        and all(w.isalpha() or w.isdigit() for w in words)
        and any(w.isalpha() and len(w) >= 2 for w in words)
        and letters > sum(len(w) for w in words) - letters  # more letters than digits
    )


def _template(split: list[str], keep: set[str]) -> tuple[str, ...]:
    """A value's template: (text, slot, text, ..., slot, text), the slots at odd positions."""
    out, text = [], ""
    for i, part in enumerate(split):
        if i % 2 == 0 or part.casefold() in keep:  # a separator or a frequent word: written as it is
            text += part
            continue
        if part.isdigit():
            slot = f"d{len(part)}"
        else:
            slot = "u" if part.isupper() and len(part) > 1 else "l" if part.islower() else "t"
        out += [text, slot]
        text = ""
    return (*out, text)


def counter_format(fmt: dict) -> dict:
    """An identifier format (tabular._id_format) with template names replaced by its counter keys,
    for keys that must be unique (an entity's) or must not count real words (a DP encoder's)."""
    return fmt["fresh"] if fmt["type"] == "words" else fmt


def templated_names(fmt: dict, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """n names from the templates (object array of str), and which rows got one that no real name
    equals [n] bool (the others' entries are to be replaced by the caller)."""
    real = pii.unpack(fmt["real"])
    out = np.empty(n, dtype=object)
    todo = np.arange(n)
    for _ in range(TRIES):
        if not len(todo):
            break
        out[todo] = _draw(fmt, len(todo), rng)
        todo = todo[pii.hits(out[todo], real)]
    got = np.ones(n, dtype=bool)
    got[todo] = False
    return out, got


def _draw(fmt: dict, n: int, rng: np.random.Generator) -> np.ndarray:
    cum = np.cumsum(np.asarray(fmt["counts"], dtype=np.float64))
    pick = np.minimum(np.searchsorted(cum, rng.random(n) * cum[-1], side="right"), len(cum) - 1)
    templates = fmt["templates"]
    order = np.argsort(pick, kind="stable")
    used, first, count = np.unique(pick[order], return_index=True, return_counts=True)
    # one draw of Faker surnames for every word slot of every row (a call per template cost 60 us each)
    words = [sum(1 for slot in templates[j][1::2] if not slot.startswith("d")) for j in used]
    surnames, at = pii.fake_people(int(np.dot(count, words)), rng)[1], 0
    out = np.empty(n, dtype=object)
    for j, f, k in zip(used, first, count):
        out[order[f : f + k]], at = _fill(templates[j], int(k), rng, surnames, at)
    return out


def _fill(template: list[str], n: int, rng: np.random.Generator, surnames: np.ndarray, at: int):
    """n strings of one template (text, slot, text, ...), each slot filled per row, the word slots from
    surnames[at:] -> (strings, the next unused surname)."""
    out = np.full(n, template[0], dtype=object)
    for slot, text in zip(template[1::2], template[2::2]):
        if slot.startswith("d"):
            width = int(slot[1:])
            digits = np.ascontiguousarray(rng.integers(0, 10, (n, width)).astype("U1"))
            fill = digits.view(f"U{width}").reshape(n).astype(object)
        else:
            change = {"u": str.upper, "l": str.lower}.get(slot, str.title)
            fill = np.array([change(str(x)) for x in surnames[at : at + n]], dtype=object)
            at += n
        out = out + fill + text
    return out, at
