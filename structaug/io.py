"""Atomic file writes, checksummed torch files and content fingerprints.

Atomic writes go to a temporary file in the same folder (``.<name>.<host>.<pid>.<random>.tmp``),
are fsynced, then renamed over the target: a crash mid-write leaves the previous file intact,
never a truncated one. A process killed mid-write (SIGKILL, power loss) cannot remove its
temporary file; the next write of the same target removes such orphans (see
:func:`remove_orphan_tmps`), never the temporary file of a live writer.

:func:`save_verified` / :func:`load_verified` add a SHA-256 checksum of the serialized payload:
a bit-flipped or truncated file raises :class:`~structaug.exceptions.CorruptFileError` instead
of being used.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import json
import os
import re
import secrets
import socket
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from .exceptions import CorruptFileError, InvalidParameterError

__all__ = [
    "ORPHAN_AGE_S",
    "atomic_torch_save",
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_text",
    "fingerprint",
    "load_verified",
    "remove_orphan_tmps",
    "save_verified",
]

#: A temporary file older than this (seconds since its last write) whose writer cannot be
#: checked (another host, a name without a pid) counts as orphaned. A live writer touches its
#: file continuously, so only a writer stalled this long would lose its file.
ORPHAN_AGE_S = 6 * 3600.0
ORPHAN_MIN_AGE_S = 60.0

_VERIFIED_KIND = "structaug-verified"
_VERIFIED_VERSION = 1
_MKSTEMP_CHARS = re.compile(r"^[a-z0-9_]{8}$")  # tempfile's random part
_TMP_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789_"


def _create_tmp(folder: Path, prefix: str, suffix: str) -> tuple[int, str]:
    """``tempfile.mkstemp`` with the mode an ordinary ``open()`` gives (0666 less the umask).

    mkstemp creates 0600; asking the kernel for 0666 with ``O_EXCL`` lets it apply the
    process's umask itself, without reading (and so briefly changing) the process-wide mask.
    """
    flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)
    for _ in range(tempfile.TMP_MAX):
        rand = "".join(secrets.choice(_TMP_ALPHABET) for _ in range(8))  # mkstemp's name shape
        name = os.path.join(folder, f"{prefix}{rand}{suffix}")
        try:
            return os.open(name, flags, 0o666), name
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name in {folder}")  # pragma: no cover


@functools.cache
def _host() -> str:
    """This process's pid space, as a token for temp-file names.

    A pid is only meaningful inside one pid namespace of one boot of one machine: the token
    hashes the full hostname, the boot id and the pid-namespace inode, so two containers with
    the same (or a truncated-alike) hostname never take each other's live temp files for
    orphans of their own.
    """
    ident = [socket.gethostname()]
    for probe in (
        lambda: Path("/proc/sys/kernel/random/boot_id").read_text().strip(),
        lambda: str(os.stat("/proc/self/ns/pid").st_ino),
    ):
        try:
            ident.append(probe())
        except OSError:
            ident.append("")
    return hashlib.sha256("\0".join(ident).encode()).hexdigest()[:12]


def _pid_alive(pid: int) -> bool:
    if os.name == "nt":  # os.kill(pid, 0) sends CTRL_C_EVENT there: never probe, never claim dead
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: alive, owned by someone else
        return True
    return True


def remove_orphan_tmps(
    path: str | os.PathLike, *, max_age: float = ORPHAN_AGE_S, min_age: float = ORPHAN_MIN_AGE_S
) -> list[Path]:
    """Remove temporary files that killed writers of ``path`` left behind; return them.

    A temporary file of ``path`` is ``.<name>.<host>.<pid>.<random>.tmp``. It is removed when
    its writer is gone: ``<host>`` is this process's pid space (machine, boot and pid
    namespace), process ``<pid>`` does not exist, and the file is at least ``min_age`` seconds
    old (a margin for what the host token cannot see, e.g. a pid reused at once). When
    that cannot be checked (another host on a shared folder, a name from before pids were
    recorded, Windows), it is removed only when it was last written more than ``max_age``
    seconds ago. The temporary file of a live writer is never removed (a reused pid keeps an
    orphan until ``max_age``, which is the safe side).
    """
    path = Path(path)
    prefix = f".{path.name}."
    removed: list[Path] = []
    try:
        entries = list(os.scandir(path.parent))
    except (FileNotFoundError, NotADirectoryError):
        return removed
    host, now = _host(), time.time()
    for entry in entries:
        name = entry.name
        if not (name.startswith(prefix) and name.endswith(".tmp")):
            continue
        parts = name[len(prefix) : -len(".tmp")].split(".")
        if len(parts) == 3 and parts[1].isdigit() and _MKSTEMP_CHARS.match(parts[2]):
            tmp_host, pid = parts[0], int(parts[1])
            if tmp_host == host and pid != os.getpid() and not _pid_alive(pid):
                orphan = _older_than(entry, now, min_age)
            else:
                orphan = _older_than(entry, now, max_age)
        elif len(parts) == 1 and _MKSTEMP_CHARS.match(parts[0]):  # written before pids were recorded
            orphan = _older_than(entry, now, max_age)
        else:  # another target's tmp (``name.x``'s) or not ours at all
            continue
        if orphan:
            try:
                os.unlink(entry.path)
                removed.append(Path(entry.path))
            except FileNotFoundError:  # another process cleaned it first
                pass
    return removed


def _older_than(entry: os.DirEntry, now: float, max_age: float) -> bool:
    try:
        return now - entry.stat(follow_symlinks=False).st_mtime > max_age
    except FileNotFoundError:
        return False


def _atomic_write(path: str | os.PathLike, write: Callable[[io.BufferedWriter], object]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_orphan_tmps(path)
    # host and pid in the name: the next writer can tell a killed writer's tmp from a live one's
    fd, tmp = _create_tmp(path.parent, f".{path.name}.{_host()}.{os.getpid()}.", ".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
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


def save_verified(obj: Any, path: str | os.PathLike) -> Path:
    """Atomically ``torch.save`` ``obj`` with a SHA-256 checksum of its serialized bytes.

    The file is a torch file holding ``{"kind": "structaug-verified", "version": 1,
    "sha256": <hex>, "payload": <bytes of torch.save(obj)>}``; read it back with
    :func:`load_verified`, which refuses it when one bit of the payload changed.
    """
    buf = io.BytesIO()
    torch.save(obj, buf)
    payload = buf.getvalue()
    container = {
        "kind": _VERIFIED_KIND,
        "version": _VERIFIED_VERSION,
        "sha256": hashlib.sha256(payload).hexdigest(),
        "payload": payload,
    }
    return atomic_torch_save(container, path)


def load_verified(
    path: str | os.PathLike,
    *,
    what: str = "file",
    start_over: str = "delete it to start over",
    map_location: Any = "cpu",
) -> Any:
    """Load what :func:`save_verified` wrote, after checking its checksum.

    Parameters
    ----------
    path : path
        The file.
    what : str
        What the file is, for messages ("checkpoint", "cache" ...).
    start_over : str
        How the user starts over, appended to the message.
    map_location : device, default "cpu"
        Where the payload's tensors are loaded (``torch.load``'s argument).

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    CorruptFileError
        The file cannot be parsed (truncated, overwritten, not written by
        :func:`save_verified`) or its payload fails the checksum; nothing from it is returned.
    """
    path = Path(path)

    def corrupt(reason: str, exc: BaseException | None = None) -> CorruptFileError:
        err = CorruptFileError(
            f"{what} {path} is corrupt or not a structaug {what} ({reason}); nothing from it was used: {start_over}"
        )
        err.__cause__ = exc
        return err

    if not path.exists():
        raise FileNotFoundError(f"{what} {path} does not exist")
    try:
        # weights_only: the container holds only str/int/bytes, and nothing is trusted yet
        container = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated zip, flipped byte in the zip structure, foreign pickle
        # torch's own message would suggest weights_only=False: not for a file that fails to parse
        raise corrupt(f"it cannot be read as a torch file: {type(exc).__name__}", exc) from exc
    if not (isinstance(container, dict) and container.get("kind") == _VERIFIED_KIND):
        raise corrupt("it has no structaug checksum")
    if container.get("version") != _VERIFIED_VERSION:
        raise corrupt(f"unknown container version {container.get('version')!r}")
    payload, digest = container.get("payload"), container.get("sha256")
    if not isinstance(payload, bytes) or not isinstance(digest, str):
        raise corrupt("its checksum or payload is missing")
    actual = hashlib.sha256(payload).hexdigest()
    if actual != digest:
        raise corrupt(f"checksum mismatch: stored sha256 {digest[:16]}..., content {actual[:16]}...")
    try:
        # the checksum passed: these are the bytes a structaug process serialized
        return torch.load(io.BytesIO(payload), map_location=map_location, weights_only=False)
    except Exception as exc:
        raise corrupt(f"its payload cannot be read: {type(exc).__name__}: {_first_line(exc)}", exc) from exc


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else ""


def fingerprint(*objs: Any) -> str:
    """SHA-256 (hex) of a canonical encoding of ``objs``: what a checkpoint or cache is keyed on.

    Arrays and tensors hash their dtype, shape and bytes; DataFrames/Series their columns,
    dtypes and values; dicts are order-independent; lists, tuples and scalars hash their
    values. Two calls give the same digest exactly when the data is the same, in any process.
    """
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
    if isinstance(o, (set, frozenset)):  # iteration order follows PYTHONHASHSEED: sort by digest
        h.update(b"set%d" % len(o))
        for d in sorted(fingerprint(v) for v in o):
            h.update(d.encode())
        return
    if isinstance(o, np.generic):  # np.int64(1) is the value 1, as in the dicts users pass
        o = o.item()
    if hasattr(o, "get_params") and callable(o.get_params):  # an estimator: its parameters
        h.update(type(o).__qualname__.encode())
        _feed(h, o.get_params(deep=False))
        return
    text = repr(o)
    if " at 0x" in text:  # a memory address: another digest in every process, never a match
        raise InvalidParameterError(
            f"cannot fingerprint {type(o).__name__} {text[:80]}: its only "
            "representation holds a memory address; pass its settings instead"
        )
    h.update(type(o).__name__.encode() + b":" + text.encode() + b";")


def check_writable(path: str | os.PathLike, flag: str, *, folder: bool = False) -> None:
    """Fail now, not after the first job, when ``path`` cannot be written.

    Creates the file's folder (``folder=True``: ``path`` itself) if needed and creates and
    removes a probe file in it (results are written there through a temporary file and a
    rename).

    Raises
    ------
    InvalidParameterError
        Naming ``flag`` and the reason.
    """
    path = Path(path).expanduser()
    if path.is_dir() and not folder:
        raise InvalidParameterError(f"{flag} {path} is a folder; give a file path such as {path / 'results.json'}")
    where = path if folder else path.parent
    try:
        where.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".probe", dir=where)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise InvalidParameterError(f"{flag} {path} is not writable: {exc.strerror or exc}") from None


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
