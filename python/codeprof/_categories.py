"""Operation categories: the pipeline stages and the system areas around them."""
from __future__ import annotations

import enum

from . import _codeprof

__all__ = ["Category"]


class Category(str, enum.Enum):
    """The category of an operation. A member equals its name: ``Category.DATA_LOADING == "data_loading"``,
    so either form is accepted wherever a category is expected."""

    DATA_LOADING = "data_loading"
    PREPROCESSING = "preprocessing"
    MODEL_INFERENCE = "model_inference"
    TRAINING_LOOP = "training_loop"
    MIXED_PRECISION = "mixed_precision"
    MULTI_GPU = "multi_gpu"
    GRADIENT_ACCUMULATION = "gradient_accumulation"
    EARLY_STOPPING = "early_stopping"
    LR_SCHEDULING = "lr_scheduling"
    MEMORY = "memory"
    GPU = "gpu"
    CPU = "cpu"
    IO = "io"
    CUSTOM = "custom"

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)


# The C++ order is the one that counts (category bits, thresholds); the names must agree.
if [c.value for c in Category] != _codeprof._category_names():  # pragma: no cover - a build mismatch
    raise ImportError("codeprof: the Python categories do not match the C++ library's: "
                      f"{[c.value for c in Category]} vs {_codeprof._category_names()}")
_codeprof._register_categories(list(Category))
