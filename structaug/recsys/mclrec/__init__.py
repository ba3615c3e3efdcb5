"""MCLRec (Qin et al., SIGIR 2023) and the sequential-recommendation harness around it.

* :class:`SequenceViews` — CL4SRec's crop / mask / reorder views, vectorised (an Augmenter,
  ``sample_unit = "views"``); the recommender trains with it (``views=``);
* :class:`SASRec`, :class:`CL4SRec`, :class:`MCLRec` — torch modules sharing one encoder;
  :class:`Popularity`, the baseline; :class:`LearnableAugmenter`, MCLRec's model-level views;
* :class:`SequentialRecommender` — the recommender contract
  (:class:`~structaug.recsys.base.Recommender`): ``fit(interactions)`` /
  ``recommend(users, k)`` / ``score_items`` / ``save`` / ``load``, plus ``evaluate``;
* the pieces of an own training loop: :func:`prepare_interactions`, :func:`five_core`,
  :func:`build_sequences`, :func:`leave_one_out`, :func:`pad_sequences`,
  :func:`prefix_examples`, :func:`fit_sequential`, :func:`evaluate_ranking`.

The implementation lives in private modules (``_views``, ``_sasrec``, ``_models``,
``_training``, ``_recommender``, ...); import from here.
"""

from ._data import (
    SequenceLog,
    build_sequences,
    five_core,
    leave_one_out,
    pad_sequences,
    prefix_examples,
    prepare_interactions,
)
from ._learnable import LearnableAugmenter
from ._models import CL4SRec, MCLRec, Popularity
from ._recommender import SequentialRecommender
from ._sasrec import SASRec
from ._training import evaluate_ranking, fit_sequential
from ._views import SequenceViews

__all__ = [
    "CL4SRec",
    "LearnableAugmenter",
    "MCLRec",
    "Popularity",
    "SASRec",
    "SequenceLog",
    "SequenceViews",
    "SequentialRecommender",
    "build_sequences",
    "evaluate_ranking",
    "fit_sequential",
    "five_core",
    "leave_one_out",
    "pad_sequences",
    "prefix_examples",
    "prepare_interactions",
]
