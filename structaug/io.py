"""Atomic file writes: write to a temporary file in the same folder, fsync, then rename.

A crash mid-write leaves the previous file intact, never a truncated one.
"""
from __future__ import annotations

import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable

import torch


def _umask() -> int:
    # os.umask can only be read by setting it; set it back at once
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _atomic_write(path: str | os.PathLike, write: Callable[[io.BufferedWriter], None]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        # mkstemp creates 0600; the finished file gets the mode an ordinary open() would give
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path


def atomic_torch_save(obj: Any, path: str | os.PathLike) -> Path:
    """``torch.save`` that never leaves a partial file at ``path``."""
    return _atomic_write(path, lambda fh: torch.save(obj, fh))


def atomic_write_bytes(data: bytes, path: str | os.PathLike) -> Path:
    return _atomic_write(path, lambda fh: fh.write(data))


def atomic_write_text(text: str, path: str | os.PathLike) -> Path:
    return atomic_write_bytes(text.encode("utf-8"), path)


def atomic_write_json(obj: Any, path: str | os.PathLike, **kwargs: Any) -> Path:
    kwargs.setdefault("indent", 2)
    kwargs.setdefault("default", _json_default)
    return atomic_write_text(json.dumps(obj, **kwargs) + "\n", path)


def fingerprint(*objs: Any) -> str:
    """SHA-256 (hex) of a canonical encoding of ``objs``: what a checkpoint or cache is keyed on.

    Arrays and tensors hash their dtype, shape and bytes; DataFrames/Series their columns,
    dtypes and values; dicts are order-independent; lists, tuples and scalars hash their
    values. Two calls give the same digest exactly when the data is the same, in any process.
    """
    import hashlib

    h = hashlib.sha256()
    for o in objs:
        _feed(h, o)
    return h.hexdigest()


def _feed(h: Any, o: Any) -> None:
    import numpy as np
    import pandas as pd

    if isinstance(o, torch.Tensor):
        o = o.detach().to("cpu")
        if o.is_sparse:
            o = o.coalesce()
            h.update(b"sparse")
            _feed(h, o.indices())
            _feed(h, o.values())
            _feed(h, tuple(o.shape))
            return
        o = o.contiguous().view(torch.uint8) if o.dtype == torch.bfloat16 else o
        o = o.numpy()
    if isinstance(o, np.ndarray):
        if o.dtype == object:
            h.update(b"objarray")
            _feed(h, o.shape)
            for v in o.reshape(-1).tolist():
                _feed(h, v)
            return
        h.update(b"array" + str(o.dtype).encode() + repr(o.shape).encode())
        h.update(np.ascontiguousarray(o).tobytes())
        return
    if isinstance(o, pd.DataFrame):
        h.update(b"frame")
        _feed(h, [str(c) for c in o.columns])
        _feed(h, [str(t) for t in o.dtypes])
        _feed(h, pd.util.hash_pandas_object(o, index=False).to_numpy())
        return
    if isinstance(o, pd.Series):
        h.update(b"series" + str(o.dtype).encode())
        _feed(h, pd.util.hash_pandas_object(o, index=False).to_numpy())
        return
    if isinstance(o, dict):
        h.update(b"dict%d" % len(o))
        for k in sorted(o, key=repr):
            _feed(h, k)
            _feed(h, o[k])
        return
    if isinstance(o, (list, tuple)):
        h.update(b"list%d" % len(o))
        for v in o:
            _feed(h, v)
        return
    if hasattr(o, "get_params") and callable(o.get_params):  # an estimator: its parameters
        h.update(type(o).__qualname__.encode())
        _feed(h, o.get_params(deep=False))
        return
    h.update(type(o).__name__.encode() + b":" + repr(o).encode() + b";")


def _json_default(o: Any) -> Any:
    import numpy as np

    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, torch.Tensor):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    return repr(o)
