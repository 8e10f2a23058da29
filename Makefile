# synthgen: `make demo` runs the default pipeline on bundled Adult; `make test` runs the tests.
VENV   ?= .venv
PYTHON ?= python3
STAMP  := $(VENV)/.installed
export PATH := $(abspath $(VENV))/bin:$(PATH)
export DVC_NO_ANALYTICS := 1
export PYTHONWARNINGS := ignore::FutureWarning

.PHONY: setup demo lint test test-slow bench gpu-check ui plots params clean

# One install for demo, tests and benchmarks; the constraint keeps torch on the CPU wheel 2.13.0.
$(STAMP): pyproject.toml constraints.txt
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q -c constraints.txt -e ".[dev,crosscheck,plots]"
	touch $(STAMP)

setup: $(STAMP)

demo: setup
	dvc repro
	synthgen summary --params params.yaml

# ruff: lint rules and formatting (pyproject.toml [tool.ruff]); `ruff format` fixes the formatting.
lint: setup
	ruff check synthgen tests benchmarks
	ruff format --check synthgen tests benchmarks

test: setup lint
	pytest -q

test-slow: setup
	pytest -q -m slow

bench: setup
	python benchmarks/run_all.py

# bf16 vs float32 training, DDP scaling, generation rows/s on the visible GPUs -> benchmarks/results/gpu.json;
# one line and exit 0 where there is no CUDA device.
gpu-check: setup
	python benchmarks/gpu_check.py

ui: setup
	synthgen ui --params params.yaml

# dvc.yaml's plots (loss by epoch, column shapes, pair trends, PNGs) as dvc_plots/index.html, which
# renders offline: vega is inlined from vl-convert-python (synthgen/dvc_plots.py), not loaded from a CDN.
PLOTS_TEMPLATE = .dvc/tmp/plots-offline.html
plots: setup
	python -m synthgen.dvc_plots $(PLOTS_TEMPLATE)
	dvc plots show --html-template $(PLOTS_TEMPLATE)

# The image pipeline's config (pipelines/mnist): MNIST-5k, its outputs and the shared MLflow store.
MNIST_OVERRIDES = data=mnist5k model=vae paths.mlflow_dir=../../mlruns

# params.yaml is what DVC reads; it is composed from conf/ (dvc exp run does this itself).
params: setup
	synthgen compose > params.yaml
	synthgen compose $(MNIST_OVERRIDES) > pipelines/mnist/params.yaml

clean:
	rm -rf outputs mlruns .dvc/cache .dvc/tmp dvc.lock
