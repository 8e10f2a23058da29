"""The exported generator: weights plus the model config and layout, loadable with weights_only=True."""
from __future__ import annotations

from pathlib import Path

import torch
from hydra.utils import instantiate

from synthgen.errors import SynthgenError


def export_generator(model, model_config: dict, path: Path) -> None:
    import os
    import uuid

    state = {"state_dict": model.state_dict(), "model_config": model_config, "layout": model.layout.to_dict()}
    Path(path).parent.mkdir(parents=True, exist_ok=True)  # a fast_dev_run saves no checkpoint before it
    tmp = Path(path).with_name(f".{Path(path).name}.{uuid.uuid4().hex}.tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def load_generator(path: Path):
    path = Path(path)
    if not path.exists():
        raise SynthgenError(f"model not found: {path}; run `synthgen train` first")
    state = torch.load(path, map_location="cpu", weights_only=True)
    model = instantiate(state["model_config"], layout=state["layout"], _convert_="all")
    model.load_state_dict(state["state_dict"])
    return model.eval()
