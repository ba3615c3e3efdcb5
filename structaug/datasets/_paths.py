"""Where datasets are looked for.

Order: the explicit ``data_dir`` argument, then ``$STRUCTAUG_DATA``, then
``../shared/datasets`` next to the repository (the source checkout this package runs from,
and the current working directory's repository). Writable caches (PyG's ``processed/``)
go to ``$STRUCTAUG_CACHE`` or ``~/.cache/structaug``, never into the data folder.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..exceptions import DatasetNotFoundError

__all__ = ["cache_dir", "candidate_dirs", "find_dataset"]


def _repo_roots() -> list[Path]:
    roots = []
    src_root = Path(__file__).resolve().parents[2]
    if (src_root / "pyproject.toml").exists():
        roots.append(src_root)
    cwd = Path.cwd().resolve()
    for p in [cwd, *cwd.parents][:4]:
        if (p / "pyproject.toml").exists() or (p / ".git").exists():
            roots.append(p)
            break
    return roots


def candidate_dirs(data_dir: str | os.PathLike | None = None) -> list[Path]:
    """Data roots to search, in priority order (duplicates removed)."""
    out: list[Path] = []
    if data_dir is not None:
        out.append(Path(data_dir).expanduser())
    env = os.environ.get("STRUCTAUG_DATA")
    if env:
        out.append(Path(env).expanduser())
    for root in _repo_roots():
        out.append((root.parent / "shared" / "datasets").resolve())
    seen, uniq = set(), []
    for p in out:
        key = str(p)
        if key not in seen:
            seen.add(key)
            uniq.append(p)
    return uniq


def find_dataset(
    relative: str | os.PathLike,
    name: str,
    data_dir: str | os.PathLike | None = None,
    *,
    must_contain: tuple[str, ...] = (),
) -> Path:
    """Return ``root / relative`` for the first root where it exists (with ``must_contain`` files).

    Raises
    ------
    DatasetNotFoundError
        Naming the dataset and every path tried.
    """
    tried = []
    roots = candidate_dirs(data_dir)
    roots_paths: list[Path] = []
    if data_dir is not None:
        explicit = Path(data_dir).expanduser()
        roots_paths.append(explicit / relative)
        # an explicit data_dir may also point inside the layout: at the dataset's folder
        # (".../planetoid/Cora" for "planetoid/Cora/raw") or at the file's folder itself
        parts = Path(relative).parts
        for k, part in enumerate(parts):
            if explicit.name == part:
                roots_paths.append(explicit.joinpath(*parts[k + 1 :]))
    for p in roots_paths + [r / relative for r in roots if data_dir is None or r != Path(data_dir).expanduser()]:
        tried.append(str(p))
        if p.exists() and all((p / f).exists() for f in must_contain):
            return p
    hint = (
        "Pass data_dir=..., set STRUCTAUG_DATA to a folder laid out like shared/datasets, or see `structaug datasets`."
    )
    need = f" (with {', '.join(must_contain)})" if must_contain else ""
    raise DatasetNotFoundError(f"dataset {name!r} not found{need}. Paths tried:\n  " + "\n  ".join(tried) + f"\n{hint}")


def files_digest(paths: list[Path] | tuple[Path, ...]) -> str:
    """First 16 hex digits of a SHA-256 over the files' names and contents.

    Caches derived from source files (PyG's ``processed/`` folders) live under this digest, so
    another copy of a dataset with other content never reuses them (file sizes alone would
    not tell two versions apart).
    """
    import hashlib

    h = hashlib.sha256()
    for p in paths:
        p = Path(p)
        h.update(p.name.encode() + b"\0")
        with open(p, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        h.update(b"\0")
    return h.hexdigest()[:16]


def cache_dir(*parts: str) -> Path:
    """A writable cache folder (``$STRUCTAUG_CACHE`` or ``~/.cache/structaug``)."""
    base = Path(os.environ.get("STRUCTAUG_CACHE", Path.home() / ".cache" / "structaug")).expanduser()
    p = base.joinpath(*parts)
    p.mkdir(parents=True, exist_ok=True)
    return p
