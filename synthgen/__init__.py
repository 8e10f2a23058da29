"""synthgen: synthetic data generators with tracked, reproducible pipelines.

    import synthgen
    synth = synthgen.Synthesizer(model="transformer").fit(df, target="income")
    rows = synth.sample(1000, seed=1)
    result = synthgen.evaluate(df, rows, target="income")

`synthgen.evaluate` is the evaluation package and, called, synthgen.api.evaluate. Names load on
first use, so `import synthgen` (and the CLI's --help) stays fast.
"""

__all__ = ["Synthesizer", "Evaluation", "evaluate"]


def __getattr__(name):
    if name in ("Synthesizer", "Evaluation"):
        from synthgen import api

        return getattr(api, name)
    if name == "evaluate":
        import synthgen.evaluate as package  # a callable module (synthgen/evaluate/__init__.py)

        return package
    raise AttributeError(f"module 'synthgen' has no attribute {name!r}")
