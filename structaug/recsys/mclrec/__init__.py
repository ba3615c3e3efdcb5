"""MCLRec (Qin et al., SIGIR 2023) and the sequential-recommendation harness around it.

* :class:`SequenceViews` — CL4SRec's crop / mask / reorder views, vectorised (an Augmenter);
* :class:`SASRec`, :class:`CL4SRec`, :class:`MCLRec` — torch modules sharing one encoder;
* :class:`SequentialRecommender` — ``fit(interactions)`` / ``recommend(users, k)`` / save / load.
"""
from ._data import build_sequences, five_core, leave_one_out, pad_sequences, prefix_examples, prepare_interactions
from ._learnable import LearnableAugmenter
from ._models import CL4SRec, MCLRec, Popularity
from ._recommender import SequentialRecommender
from ._sasrec import SASRec
from ._views import SequenceViews

__all__ = [
    "SequenceViews", "SASRec", "CL4SRec", "MCLRec", "Popularity", "LearnableAugmenter", "SequentialRecommender",
    "prepare_interactions", "five_core", "build_sequences", "leave_one_out", "pad_sequences", "prefix_examples",
]
