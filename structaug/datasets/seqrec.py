"""Sequential-recommendation logs: ``user item item ...`` per line, items in time order."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from ..exceptions import DataValidationError
from ._paths import find_dataset

__all__ = ["SEQREC_NAMES", "load_seqrec", "read_seqrec_file"]

SEQREC_NAMES = {
    "beauty": "Beauty",
    "sports": "Sports_and_Outdoors",
    "sports_and_outdoors": "Sports_and_Outdoors",
    "toys": "Toys_and_Games",
    "toys_and_games": "Toys_and_Games",
    "yelp": "Yelp",
}


def read_seqrec_file(path: str | os.PathLike) -> pd.DataFrame:
    """Read one file into a ``user, item, timestamp`` frame (timestamp = position in the line).

    Each line is ``user item item ...``. A non-integer token, a user on two lines (their
    positions would collide and interleave the two histories) and a file without any
    interaction raise ``DataValidationError`` naming the file (and line).
    """
    users: list[int] = []
    items: list[int] = []
    pos: list[int] = []
    first_line: dict[int, int] = {}
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            parts = line.split()
            if not parts:
                continue
            try:
                ids = [int(p) for p in parts]
            except ValueError as exc:
                raise DataValidationError(f"{path}:{lineno}: expected integer ids ({exc})") from exc
            u, seq = ids[0], ids[1:]
            if u in first_line:
                raise DataValidationError(
                    f"{path}:{lineno}: user {u} already has a sequence on line {first_line[u]}; "
                    "a seqrec file holds one line per user"
                )
            first_line[u] = lineno
            users.extend([u] * len(seq))
            items.extend(seq)
            pos.extend(range(len(seq)))
    if not users:
        raise DataValidationError(f"{path} holds no interactions (expected lines 'user item item ...')")
    return pd.DataFrame(
        {
            "user": np.asarray(users, dtype=np.int64),
            "item": np.asarray(items, dtype=np.int64),
            "timestamp": np.asarray(pos, dtype=np.int64),
        }
    )


def load_seqrec(name: str, data_dir: str | os.PathLike | None = None) -> pd.DataFrame:
    """Load Beauty, Sports_and_Outdoors (``Sports``), Toys_and_Games (``Toys``) or Yelp."""
    canon = SEQREC_NAMES.get(name.lower(), name)
    path = find_dataset(Path("seqrec") / f"{canon}.txt", canon, data_dir)
    df = read_seqrec_file(path)
    df.attrs["name"] = canon
    return df
