"""Exceptions raised across structaug.

Each inherits from the built-in exception that sklearn and PyG users already catch,
so ``except ValueError`` keeps working.
"""
from __future__ import annotations

from sklearn.exceptions import NotFittedError

__all__ = ["NotFittedError", "DataValidationError", "DatasetNotFoundError", "BackendError"]


class DataValidationError(ValueError):
    """Input data has the wrong shape, values, ids or content."""


class DatasetNotFoundError(FileNotFoundError):
    """A dataset could not be found in any of the searched data directories."""


class BackendError(RuntimeError):
    """An external backend (an LLM server, an embedding model) failed or answered garbage."""
