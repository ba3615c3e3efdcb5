"""structaug: data augmenters for graphs, recommendation logs, item sequences, sparse
tensors and tables, with the models their papers train.

Method families live in subpackages (``structaug.graph``, ``structaug.recsys``,
``structaug.tensor``, ``structaug.tabular``); the shared pieces are here.
"""

from .base import Augmenter, check_is_fitted
from .discovery import all_estimators
from .exceptions import (
    BackendError,
    CheckpointMismatchError,
    CorruptFileError,
    DatasetNotFoundError,
    DataValidationError,
    DeviceUnavailableError,
    InvalidParameterError,
    NotFittedError,
    ResultsExistError,
    StructaugError,
    UnknownIdError,
)
from .train import Trainer, TrainResult, resolve_device

__version__ = "0.1.0"

__all__ = [
    "Augmenter",
    "BackendError",
    "CheckpointMismatchError",
    "CorruptFileError",
    "DataValidationError",
    "DatasetNotFoundError",
    "DeviceUnavailableError",
    "InvalidParameterError",
    "NotFittedError",
    "ResultsExistError",
    "StructaugError",
    "TrainResult",
    "Trainer",
    "UnknownIdError",
    "__version__",
    "all_estimators",
    "check_is_fitted",
    "resolve_device",
]
