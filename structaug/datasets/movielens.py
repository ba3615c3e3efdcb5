"""MovieLens-100K: ratings, item titles/genres/dates and user demographics as frames."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ._paths import find_dataset

__all__ = ["MovieLens", "load_movielens100k"]

_GENRES = [
    "unknown",
    "Action",
    "Adventure",
    "Animation",
    "Children's",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
]


@dataclass
class MovieLens:
    """``interactions`` (user, item, rating, timestamp), ``items`` (item, title, year,
    release_date, genres, one column per genre) and ``users`` (user, age, gender,
    occupation, zip)."""

    interactions: pd.DataFrame
    items: pd.DataFrame
    users: pd.DataFrame


def load_movielens100k(data_dir: str | os.PathLike | None = None) -> MovieLens:
    root = find_dataset(Path("movielens") / "ml-100k", "ml-100k", data_dir, must_contain=("u.data", "u.item", "u.user"))
    inter = pd.read_csv(root / "u.data", sep="\t", header=None, names=["user", "item", "rating", "timestamp"])
    items = pd.read_csv(
        root / "u.item",
        sep="|",
        header=None,
        encoding="latin-1",
        names=["item", "title", "release_date", "video_release_date", "url", *_GENRES],
    )
    items = items.drop(columns=["video_release_date", "url"])
    items["year"] = pd.to_numeric(items["title"].str.extract(r"\((\d{4})\)\s*$")[0], errors="coerce")
    gen = items[_GENRES].to_numpy().astype(bool)
    items["genres"] = ["|".join(g for g, on in zip(_GENRES, row) if on) for row in gen]
    users = pd.read_csv(root / "u.user", sep="|", header=None, names=["user", "age", "gender", "occupation", "zip"])
    return MovieLens(inter, items, users)
