"""synthgen: synthetic data generators with tracked, reproducible pipelines."""
