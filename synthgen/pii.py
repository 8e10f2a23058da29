"""Personal data: found by column names and values, generated per row from Faker's word lists, never modelled.

Detection (`detect`) returns a pii type for string columns that hold
    full_name, first_name, last_name, email, phone, address
and "identifier" for record numbers named so ("case_number", "account_no", "person_id") even
when values repeat: an e-mail on two rows is still an e-mail, a case number shared by two
rows still points at a case. A name hint alone is not enough (a "last_score" column is no
surname): the values must look the part too.

Generation (`fake_people` and `fake_column`): one fake person per row (first and last name
drawn with Faker's en_US name frequencies; male or female first names by the row's level of
a sex column, synthgen/name_sex.py), from which the row's first, last and full name and
e-mail are all built, so they agree. Phones follow the column's most common shape
("(###) ###-####") with fresh digits; addresses are "<number> <name> <street suffix>", the name
another fake person's (as Faker's streets are), not the row's own; free text is Faker's lorem
words, with lengths from the real column's length quantiles. Draws come from the decoder's
numpy stream (seeded per chunk), so output is the same per seed at any world size, and
vectorised over the chunk (Faker's own per-call providers take ~0.2 ms a value).

Identifying values (a full name, a first + last pair, an e-mail, a phone, an address) are
stored as 64-bit hashes (`value_hashes`), and a fake value equal to a real one is redrawn.
A first or a last name alone is not identifying.
"""

from __future__ import annotations

import base64
import os
import re
import unicodedata
from functools import lru_cache

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

PII_TYPES = ("full_name", "first_name", "last_name", "email", "phone", "address")
IDENTIFYING = ("full_name", "email", "phone", "address")  # on their own; first + last as a pair
_EMAIL = r"^[A-Za-z0-9._%+'-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$"
_PHONE = r"^\+?\d{0,3}[\s.-]?\(?\d{2,4}\)?[\s.-]?\d{3,4}[\s.-]?\d{3,5}$"
_ADDRESS = (
    r"(?i)^\d+[A-Za-z]?\s+[A-Za-z0-9 .'-]+\s(street|st|avenue|ave|road|rd|boulevard|blvd|drive|dr|lane|ln|"
    r"way|court|ct|place|pl|terrace|ter|circle|cir|parkway|pkwy|highway|hwy|square|sq|trail|trl)\b"
)
# Words of letters (any script: RE2's \w is ASCII, so "Müller" failed) between ' . - or spaces
_NAME_VALUE = r"^[\p{L}\p{M}]+(?:['’ .-]+[\p{L}\p{M}]+)*\.?$"
_PERSON_WORDS = {
    "full",
    "person",
    "customer",
    "patient",
    "client",
    "employee",
    "user",
    "contact",
    "owner",
    "member",
    "student",
    "applicant",
    "driver",
    "account",
    "holder",
    "defendant",
    "offender",
    "subject",
    "victim",
    "witness",
    "agent",
    "staff",
    "worker",
    "mother",
    "father",
    "spouse",
}
# Words of places and organisations ("Moton Field Municipal Airport", "Acme Corp"): a column whose
# distinct values hold them in >= NOT_PERSON_SHARE is not people's full names, even under a bare
# "name" header (a first- or last-name header still decides). Measured: vega's airports 62 %,
# Faker's companies 25 % and cities 6 %; Faker's person names in 17 locales 0-2.4 % (surnames such
# as Park or Field).
_PLACE_WORDS = {
    "airport", "airfield", "airpark", "heliport", "seaplane", "afb", "intl", "international", "municipal",
    "regional", "field", "county", "city", "town", "village", "university", "college", "school", "academy",
    "hospital", "clinic", "center", "centre", "station", "park", "lake", "river", "mountain", "mount", "mt",
    "island", "bay", "beach", "valley", "ranch", "farm", "farms", "strip", "base", "memorial", "national",
    "state", "federal", "inc", "ltd", "llc", "corp", "corporation", "company", "co", "group", "gmbh", "plc",
    "bank", "hotel", "restaurant", "cafe", "church", "club", "association", "foundation", "institute",
    "department", "store", "shop", "market", "mall", "street", "road", "avenue",
}  # fmt: skip
NOT_PERSON_SHARE = 0.15
_PLACE_VALUE = r"(?i)(^|[^a-z])(" + "|".join(sorted(_PLACE_WORDS)) + r")($|[^a-z])"
_ID_WORDS = {"id", "number", "no", "num", "nr", "ssn", "uuid", "guid", "mrn", "passport", "license", "licence"}
_SAMPLE = 5000


def words(name: str) -> list[str]:
    """'c_case_number' -> ['c', 'case', 'number']; 'FirstName' -> ['first', 'name']; 'Prénom' -> ['prenom']."""
    plain = "".join(c for c in unicodedata.normalize("NFKD", str(name)) if not unicodedata.combining(c))
    return [w.lower() for w in re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+", plain)]


def _share(valid: pa.ChunkedArray, pattern: str) -> float:
    return pc.mean(pc.match_substring_regex(valid, pattern).cast(pa.int8())).as_py() or 0.0


def detect(name: str, valid: pa.ChunkedArray, n_unique: int) -> str | None:
    """A pii type, "identifier", or None, for a string column's non-null values."""
    if not len(valid):
        return None
    valid = valid.cast(pa.large_string())
    if len(valid) > _SAMPLE:
        valid = valid.slice(0, _SAMPLE)
    w = words(name)
    ws = set(w)
    email = _share(valid, _EMAIL)
    if email >= 0.9 or (ws & {"email", "mail", "e"} and email >= 0.5):
        return "email"
    phone = _share(valid, _PHONE)
    if phone >= 0.9 and (
        ws & {"phone", "tel", "telephone", "mobile", "cell", "fax"}
        or _share(valid, r"^\+|\(\d+\)|\d[\s.-]\d{3,4}[\s.-]\d") >= 0.9
    ):
        return "phone"
    address = _share(valid, _ADDRESS)
    if address >= 0.8 or (ws & {"address", "street", "addr"} and _share(valid, r"\d") >= 0.5):
        return "address"
    named = _share(valid, _NAME_VALUE)
    if named >= 0.9:
        kind = _name_kind(w, valid, n_unique)
        if kind:
            return kind
    if w and w[-1] in _ID_WORDS and _share(valid, r"\d") >= 0.9 and n_unique >= 0.3 * len(valid):
        return "identifier"
    return None


# Header words for first and last names, English and the unambiguous ones of other languages
# (French, German, Dutch, Spanish, Italian, Portuguese, Polish, Scandinavian, Finnish; not "nom" or
# "nombre", which also mean a product's name)
_FIRST_WORDS = {"first", "given", "forename", "firstname", "fname", "prenom", "vorname", "voornaam", "fornavn",
                "fornamn", "etunimi"}  # fmt: skip
_LAST_WORDS = {"last", "surname", "family", "lastname", "lname", "nachname", "familienname", "apellido",
               "apellidos", "cognome", "sobrenome", "achternaam", "nazwisko", "efternamn", "etternavn",
               "sukunimi"}  # fmt: skip
NAME_MIN_DISTINCT = 30  # by values alone, a names column has many names ("white"/"black" are surnames too)


def _name_kind(w: list[str], valid: pa.ChunkedArray, n_unique: int) -> str | None:
    """first_name / last_name / full_name by the column's words, else by the name lists of every
    Faker locale (shares of the distinct values, so that a few frequent words do not decide)."""
    ws = set(w)
    if ws & _FIRST_WORDS or "first" in "".join(w[-2:]):
        return "first_name"
    if ws & _LAST_WORDS and not ws & {"date", "day", "time", "score"}:
        return "last_name"
    if _place_share(valid) >= NOT_PERSON_SHARE:  # "name" alone: an airport's, a company's
        return None
    if (w[-1:] == ["name"] and (len(w) == 1 or ws & _PERSON_WORDS)) or ws & {"fullname"}:
        return "full_name"
    if n_unique < NAME_MIN_DISTINCT:
        return None
    firsts, lasts = detection_lists()
    valid = pc.unique(valid)
    low = pc.utf8_lower(valid)
    head = pc.struct_field(pc.extract_regex(low, r"^\s*(?P<w>[^\s,]+)"), "w")
    tail = pc.struct_field(pc.extract_regex(low, r"(?P<w>[^\s,]+)\s*$"), "w")
    single = _share(valid, r"^\s*[^\s,]+\s*$") >= 0.9

    def share_in(part, names):
        return pc.mean(pc.is_in(part, value_set=names).cast(pa.int8())).as_py() or 0.0

    if single:
        if share_in(head, firsts) >= 0.6:
            return "first_name"
        return "last_name" if share_in(head, lasts) >= 0.6 else None
    # "First Last" or "Last, First": a known first name at either end, a known surname at either end
    first_hit = max(share_in(head, firsts), share_in(tail, firsts))
    last_hit = max(share_in(tail, lasts), share_in(head, lasts))
    return "full_name" if first_hit >= 0.5 and last_hit >= 0.3 else None


def _place_share(valid: pa.ChunkedArray) -> float:
    """Share of the distinct values with a word of _PLACE_WORDS."""
    return _share(pc.unique(valid), _PLACE_VALUE)


def _every_locale(attrs: tuple[str, ...]) -> dict[str, set]:
    """{attribute: lowercase names} over the person providers of every locale Faker ships."""
    import importlib
    import pkgutil

    import faker.providers.person as person

    out = {a: set() for a in attrs}
    for mod in pkgutil.iter_modules(person.__path__):
        provider = getattr(importlib.import_module(f"{person.__name__}.{mod.name}"), "Provider", None)
        for attr in attrs:
            names = getattr(provider, attr, ())
            if isinstance(names, (dict, list, tuple, set, frozenset)):  # a few are properties
                out[attr].update(str(n).lower() for n in names)
    return out


@lru_cache(maxsize=1)
def detection_lists() -> tuple[pa.Array, pa.Array]:
    """(first names, last names), lowercase, of every locale Faker ships (the fakes come from
    en_US's, name_lists): a column of German or Turkish names is found by its values too."""
    kinds = ("", "_male", "_female", "_nonbinary")
    found = _every_locale(tuple(f"{attr}{k}" for attr in ("first_names", "last_names") for k in kinds))
    firsts = set().union(*(found[f"first_names{k}"] for k in kinds))
    lasts = set().union(*(found[f"last_names{k}"] for k in kinds))
    return pa.array(sorted(firsts)), pa.array(sorted(lasts))


@lru_cache(maxsize=1)
def sexed_first_names() -> tuple[pa.Array, pa.Array]:
    """(first names only ever male, only ever female), lowercase, over every locale Faker ships:
    what synthgen/name_sex.py reads a column's sex from. A name of both lists is in neither."""
    found = _every_locale(("first_names_male", "first_names_female"))
    male, female = found["first_names_male"], found["first_names_female"]
    return pa.array(sorted(male - female)), pa.array(sorted(female - male))


@lru_cache(maxsize=1)
def _sexed_lists():
    """en_US's ((male first names, cumulative weights), (female ones, cumulative weights)), lowercase."""
    from faker.providers.person.en_US import Provider

    out = []
    for d in (Provider.first_names_male, Provider.first_names_female):
        weights = np.asarray(list(d.values()), dtype=np.float64)
        out.append((np.asarray([k.lower() for k in d], dtype=object), np.cumsum(weights) / weights.sum()))
    return tuple(out)


@lru_cache(maxsize=1)
def name_lists():
    """((lowercase first names, cumulative weights), (lowercase last names, cumulative weights)) from Faker."""
    from faker.providers.person.en_US import Provider

    out = []
    for d in (Provider.first_names, Provider.last_names):
        names = [k.lower() for k in d]
        weights = np.asarray(list(d.values()), dtype=np.float64)
        out.append((pa.array(names), np.cumsum(weights) / weights.sum()))
    return tuple(out)


@lru_cache(maxsize=1)
def _word_lists():
    from faker.providers.address.en_US import Provider as Address
    from faker.providers.internet.en_US import Provider as Internet
    from faker.providers.lorem.en_US import Provider as Lorem

    return (
        np.asarray(list(Address.street_suffixes), dtype=object),
        np.asarray(list(Internet.free_email_domains) + ["example.com", "example.org"], dtype=object),
        np.asarray(list(Lorem.word_list), dtype=object),
    )


# ---- what schema.json keeps of a pii or text column (no real values) -------------------------
def style_of(valid: pa.ChunkedArray) -> dict:
    """Letter case of names ("lower", "upper", "title"), a phone's commonest shape, text lengths,
    and whether every value is different (an e-mail per person: the fakes are unique too)."""
    s = valid.cast(pa.large_string())
    unique = len(s) > 1 and pc.count_distinct(s).as_py() == len(s)
    if len(s) > _SAMPLE:
        s = s.slice(0, _SAMPLE)
    lower = pc.all(pc.equal(s, pc.utf8_lower(s))).as_py()
    upper = pc.all(pc.equal(s, pc.utf8_upper(s))).as_py()
    shapes = pc.value_counts(pc.replace_substring_regex(s, r"\d", "#"))
    top = shapes.field("values")[int(np.argmax(shapes.field("counts").to_numpy()))].as_py() if len(shapes) else ""
    phone_shape = top if re.fullmatch(r"[#\s()+.\-/x]*", top or "") else None
    lengths = np.quantile(pc.utf8_length(s).to_numpy(), np.linspace(0, 1, 11)) if len(s) else np.zeros(11)
    return {
        "case": "lower" if lower else "upper" if upper else "title",
        "shape": phone_shape,
        "prefix": _shared_prefix(s, phone_shape) if phone_shape else "",
        "lengths": [int(round(x)) for x in lengths],
        "unique": bool(unique),
    }


def _shared_prefix(s: pa.Array, shape: str) -> str:
    """The start every phone of the commonest shape shares ("+1 (", "+44 20 "): a country or
    area code the fakes keep, so "+1 (555) ..." does not come back as "+7 (555) ...". At most half
    the shape's digits, so a column of near-equal numbers never hands its numbers on."""
    values = [v for v in s.to_pylist() if re.sub(r"\d", "#", v) == shape]
    if len(values) < 20:
        return ""
    prefix = os.path.commonprefix(values)
    while sum(ch.isdigit() for ch in prefix) > shape.count("#") // 2:
        prefix = prefix[:-1]
    return prefix


def _case(v: np.ndarray, case: str) -> np.ndarray:
    # Python's str methods, as pandas' .str would call them, without its accessor: a Series and its
    # cached .str refer to each other, a cycle that kept every generated chunk's values until Python's
    # cyclic collector ran.
    change = {"lower": str.lower, "upper": str.upper}.get(case, str.title)
    return np.array([change(str(x)) for x in v], dtype=object)


# ---- generation --------------------------------------------------------------------------------
def fake_people(n: int, rng: np.random.Generator, sex: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """n (first, last) lowercase names drawn with Faker's en_US frequencies. `sex` [n] (int8, from
    name_sex.row_sexes): 1 draws the row's first name from the male names, 2 from the female ones,
    0 from all; the same uniforms either way, so a table without a sex column is unchanged."""
    (firsts, fcdf), (lasts, lcdf) = name_lists()
    u = rng.random(n)
    f = np.minimum(np.searchsorted(fcdf, u, side="right"), len(fcdf) - 1)
    first = np.asarray(firsts.to_pylist(), dtype=object)[f]
    l_ = np.minimum(np.searchsorted(lcdf, rng.random(n), side="right"), len(lcdf) - 1)
    if sex is not None:
        for code, (names, cdf) in zip((1, 2), _sexed_lists()):
            rows = np.flatnonzero(sex == code)
            first[rows] = names[np.minimum(np.searchsorted(cdf, u[rows], side="right"), len(cdf) - 1)]
    return first, np.asarray(lasts.to_pylist(), dtype=object)[l_]


def fake_column(
    kind: str,
    style: dict,
    first: np.ndarray,
    last: np.ndarray,
    rng: np.random.Generator,
    rows: np.ndarray | None = None,
) -> np.ndarray:
    """Values of one pii/text column for the rows' fake people (object array of str). `rows`: the
    rows' numbers in the whole output; an e-mail column whose real values are all different gets
    the row number as its digits, so no two synthetic rows share one either (across chunks and
    ranks too)."""
    n = len(first)
    suffixes, domains, lorem = _word_lists()
    case = style.get("case", "title")
    if kind == "first_name":
        return _case(first, case)
    if kind == "last_name":
        return _case(last, case)
    if kind == "full_name":
        return _case(first + " " + last, case)
    if kind == "email":
        num = rng.integers(1, 1000, n).astype(str)
        digits = np.where(rng.random(n) < 0.5, num, "")
        if style.get("unique") and rows is not None:
            digits = (np.asarray(rows, dtype=np.int64) + 1).astype(str)
        out = first + "." + last + digits + "@" + domains[rng.integers(0, len(domains), n)]
        return _case(out, "upper" if case == "upper" else "lower")
    if kind == "phone":
        shape, prefix = style.get("shape") or "(###) ###-####", style.get("prefix") or ""
        shape = shape[len(prefix) :]
        digits = rng.integers(0, 10, (n, shape.count("#"))).astype(str)
        parts = shape.split("#")
        out = np.full(n, prefix + parts[0], dtype=object)
        for j, p in enumerate(parts[1:]):
            out = out + digits[:, j] + p
        return out
    if kind == "address":
        number = rng.integers(1, 10_000, n).astype(str)
        other_first, other_last = fake_people(n, rng)  # a street named after the row's own person read oddly
        street = np.where(rng.random(n) < 0.5, other_first, other_last)
        return _case(number + " " + street + " " + suffixes[rng.integers(0, len(suffixes), n)], case)
    # free text: lorem words up to a length drawn from the real length quantiles
    q = np.asarray(style.get("lengths") or [20, 80], dtype=np.float64)
    target = np.interp(rng.random(n), np.linspace(0, 1, len(q)), q)
    n_words = np.maximum(1, np.round(target / 6.5)).astype(np.int64)
    flat = lorem[rng.integers(0, len(lorem), int(n_words.sum()))]
    ends = np.cumsum(n_words)
    out = np.array([" ".join(flat[e - k : e]) for e, k in zip(ends, n_words)], dtype=object)
    out = np.array([t[:1].upper() + t[1:] + "." for t in out], dtype=object)
    return out


def value_hashes(values) -> np.ndarray:
    """Sorted uint64 hashes of lowercased, stripped strings (what 'equal to a real value' means)."""
    return np.unique(pd.util.hash_array(_folded(pd.Series(values, dtype=object).dropna())))


def pack(h: np.ndarray) -> str:
    return base64.b64encode(np.asarray(h, dtype="<u8").tobytes()).decode()


def unpack(s: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(s), dtype="<u8").astype(np.uint64)


def hits(values: np.ndarray, hashes: np.ndarray) -> np.ndarray:
    """Which values equal one of the real values behind `hashes` (sorted)."""
    if not len(hashes):
        return np.zeros(len(values), dtype=bool)
    h = value_hashes_unsorted(values)
    i = np.minimum(np.searchsorted(hashes, h), len(hashes) - 1)
    return hashes[i] == h


def value_hashes_unsorted(values) -> np.ndarray:
    return pd.util.hash_array(_folded(values))


def _folded(values) -> np.ndarray:
    """Values as stripped lowercase strings, object [n] (no pandas .str: see _case)."""
    return np.array([str(x).strip().lower() for x in values], dtype=object)
