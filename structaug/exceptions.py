"""Exceptions raised across structaug.

Every structaug exception derives from :class:`StructaugError` (catch that to catch them
all) and from the built-in exception that scikit-learn and PyG users already catch, so
``except ValueError`` keeps working:

==========================  ==========================  =============================================
exception                   also a                      raised when
==========================  ==========================  =============================================
``NotFittedError``          ``ValueError``,             a fitted-only method is called before ``fit``
                            ``AttributeError``          (scikit-learn's class)
``InvalidParameterError``   ``ValueError``,             a constructor parameter, keyword argument or
                            ``TypeError``               command-line flag has a wrong type or value
``DataValidationError``     ``ValueError``              input data has the wrong shape, dtype, values,
                                                        ids or content
``UnknownIdError``          ``DataValidationError``,    a user/item id that ``fit`` never saw (e.g. at
                            ``KeyError``                ``recommend`` time); lists a few of them
``DatasetNotFoundError``    ``FileNotFoundError``       a dataset is in none of the searched folders
``BackendError``            ``RuntimeError``            an LLM server or embedding model failed
``DeviceUnavailableError``  ``RuntimeError``            ``device="cuda"`` on a machine without CUDA
``CheckpointMismatchError`` ``ValueError``              a checkpoint or cache was made for other data,
                                                        another configuration or another model
``CorruptFileError``        ``ValueError``              a checkpoint, cache or results file fails its
                                                        checksum or cannot be parsed
``ResultsExistError``       ``FileExistsError``         a benchmark would overwrite results it did not
                                                        write in this run
==========================  ==========================  =============================================
"""

from __future__ import annotations

from sklearn.exceptions import NotFittedError

__all__ = [
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
    "UnknownIdError",
]


class StructaugError(Exception):
    """Base class of every exception structaug raises on purpose."""


class InvalidParameterError(StructaugError, ValueError, TypeError):
    """A parameter (constructor argument, keyword, CLI flag) has a wrong type or value.

    Like scikit-learn's ``InvalidParameterError`` it is both a ``ValueError`` and a
    ``TypeError``, so callers catching either keep working.
    """


class DataValidationError(StructaugError, ValueError):
    """Input data has the wrong shape, values, ids or content."""


class UnknownIdError(DataValidationError, KeyError):
    """A user or item id that the fitted vocabulary does not hold (e.g. an unseen user at
    ``recommend`` time).

    A :class:`DataValidationError` and, as before, a ``KeyError``, so ``except KeyError`` keeps
    working. The message lists a few of the unknown ids.
    """

    __str__ = Exception.__str__  # KeyError's would wrap the message in quotes


class DatasetNotFoundError(StructaugError, FileNotFoundError):
    """A dataset could not be found in any of the searched data directories."""


class BackendError(StructaugError, RuntimeError):
    """An external backend (an LLM server, an embedding model) failed or answered garbage."""


class DeviceUnavailableError(StructaugError, RuntimeError):
    """A device was asked for (``device="cuda"``) that this machine does not have."""


class CheckpointMismatchError(StructaugError, ValueError):
    """A checkpoint or cache belongs to other data, another configuration or another model.

    The message says which part differs; nothing was loaded.
    """


class CorruptFileError(StructaugError, ValueError):
    """A checkpoint, cache or results file fails its checksum or cannot be parsed.

    Nothing from it was used; the message names the file and how to start over.
    """


class ResultsExistError(StructaugError, FileExistsError):
    """A benchmark was about to overwrite a results file it did not write in this run."""
