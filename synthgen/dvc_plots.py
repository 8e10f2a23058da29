"""An HTML template for `dvc plots show` that renders without a network.

DVC's own page loads vega, vega-lite and vega-embed from a CDN, so it is blank offline. This template
inlines them instead, from the `vl-convert-python` package (the Vega project's converter, which ships
the libraries; `plots` extra): `vl_convert.javascript_bundle()` returns vega-embed, vega-lite and vega
as one script (~0.9 MB) that sets window.vegaEmbed; it is wrapped in a function so that its top-level
names cannot clash with the `var` names of DVC's plot scripts. The template leaves out DVC's `{scripts}` (the CDN
tags) and keeps `{plot_divs}`, where DVC puts each plot's vega-lite spec and its vegaEmbed call.

    python -m synthgen.dvc_plots .dvc/tmp/plots-offline.html     # `make plots` does this, then
    dvc plots show --html-template .dvc/tmp/plots-offline.html   # dvc_plots/index.html, offline
"""

from __future__ import annotations

import sys
from pathlib import Path

from synthgen.errors import SynthgenError

DEFAULT = Path(".dvc/tmp/plots-offline.html")
PAGE = """<!DOCTYPE html>
<html>
<head>
    {refresh_tag}
    <meta charset="utf-8">
    <title>synthgen: DVC plots</title>
    <!-- vega-embed, vega-lite and vega from vl-convert-python %(version)s: no network needed -->
    <script>(function () {%(bundle)s})();</script>
    <style>table { border-spacing: 15px; } body { font-family: sans-serif; }</style>
</head>
<body>
    {plot_divs}
</body>
</html>
"""


def _vl_convert():
    try:
        import vl_convert
    except ImportError:
        raise SynthgenError('the offline plots page needs vl-convert-python: pip install -e ".[plots]"') from None
    return vl_convert


def template_html() -> str:
    vl_convert = _vl_convert()
    version = getattr(vl_convert, "__version__", "?")
    return PAGE % {"bundle": vl_convert.javascript_bundle(), "version": version}


def write_template(path: Path = DEFAULT) -> Path:
    """Write the template once per vl-convert version (bundling takes ~10-30 s)."""
    path = Path(path)
    marker = f"vl-convert-python {getattr(_vl_convert(), '__version__', '?')}:"
    if path.exists() and marker in path.read_text(encoding="utf-8", errors="ignore")[:2000]:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(template_html(), encoding="utf-8")
    tmp.replace(path)
    return path


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        print(write_template(Path(argv[0]) if argv else DEFAULT))
    except SynthgenError as e:
        print(f"synthgen: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
