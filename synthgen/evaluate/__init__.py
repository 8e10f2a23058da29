"""Evaluation of synthetic tables: fidelity, utility, privacy, bias, validity, a privacy gate,
and a self-contained HTML report.

    result = evaluate_tables(train, holdout, synthetic, kinds, EvalConfig(target="income"))
    write_evaluation(result, train, holdout, synthetic, kinds, config, out_dir)

Called as a function, `synthgen.evaluate(real, synthetic, holdout=..., target=...)` is
synthgen.api.evaluate (the package and the function share the name `synthgen.evaluate`).
"""

import sys
import types

from synthgen.evaluate.config import EvalConfig, GateConfig
from synthgen.evaluate.gate import check_gate, check_image_gate
from synthgen.evaluate.report import write_evaluation
from synthgen.evaluate.tabular import evaluate_tables

__all__ = ["EvalConfig", "GateConfig", "check_gate", "check_image_gate", "evaluate_tables", "write_evaluation"]


class _CallableModule(types.ModuleType):
    def __call__(self, *args, **kwargs):
        from synthgen.api import evaluate

        return evaluate(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
