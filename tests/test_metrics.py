"""Metric values against hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from structaug.metrics import accuracy, balanced_accuracy, mae, mean_metrics, rmse, roc_auc, topk_metrics


def test_classification_metrics():
    assert accuracy([0, 1, 1, 0], [0, 1, 0, 0]) == 0.75
    assert accuracy(torch.tensor([1, 0]), torch.tensor([[0.1, 0.9], [0.8, 0.2]])) == 1.0
    # class 0: 2/2 right, class 1: 1/2 right -> 0.75
    assert balanced_accuracy([0, 0, 1, 1], [0, 0, 1, 0]) == 0.75
    assert roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == 0.75
    probs = np.array([[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.1, 0.1, 0.8]])
    assert roc_auc([0, 1, 2], probs) == 1.0
    with pytest.raises(ValueError, match="empty"):
        accuracy([], [])


def test_regression_metrics():
    assert rmse([1, 2, 3], [1, 2, 5]) == pytest.approx(math.sqrt(4 / 3))
    assert mae([1, 2, 3], [2, 2, 1]) == pytest.approx(1.0)
    # an [n, 1] prediction is n values, not an [n, n] broadcast
    assert rmse(np.array([1.0, 2.0, 3.0]), np.array([[1.0], [2.0], [5.0]])) == pytest.approx(math.sqrt(4 / 3))
    with pytest.raises(ValueError, match="3 values but y_pred has 2"):
        mae([1, 2, 3], [1, 2])


def test_topk_single_target_hand_computed():
    scores = torch.tensor(
        [
            [0.9, 0.8, 0.7, 0.1],  # target 2 at rank 3
            [0.1, 0.2, 0.3, 0.4],
        ]
    )  # target 0 at rank 4
    m = topk_metrics(scores, torch.tensor([2, 0]), ks=(1, 3))
    assert m["hr@3"].tolist() == [1.0, 0.0]
    assert m["ndcg@3"][0].item() == pytest.approx(1 / math.log2(4))
    assert m["hr@1"].sum() == 0
    assert m["precision@3"][0].item() == pytest.approx(1 / 3)


def test_topk_masks_seen_items_but_not_targets():
    scores = torch.tensor([[0.9, 0.8, 0.7, 0.1]])
    # items 0 and 1 were seen in training -> the target 2 becomes rank 1
    m = topk_metrics(scores, torch.tensor([2]), ks=(1,), seen=(torch.tensor([0, 0]), torch.tensor([0, 1])))
    assert m["hr@1"].item() == 1.0 and m["ndcg@1"].item() == 1.0
    # a target that was also seen stays rankable
    m = topk_metrics(scores, torch.tensor([0]), ks=(1,), seen=(torch.tensor([0]), torch.tensor([0])))
    assert m["hr@1"].item() == 1.0


def test_topk_multi_target_recall_and_ndcg():
    scores = torch.tensor([[0.9, 0.8, 0.7, 0.6, 0.5]])
    m = topk_metrics(scores, torch.tensor([[0, 3, -1]]), ks=(2, 4))
    assert m["recall@2"].item() == 0.5 and m["recall@4"].item() == 1.0
    dcg = 1 / math.log2(2) + 1 / math.log2(5)
    idcg = 1 / math.log2(2) + 1 / math.log2(3)
    assert m["ndcg@4"].item() == pytest.approx(dcg / idcg)
    assert m["precision@4"].item() == 0.5


def test_topk_ties_go_to_the_lower_item_id():
    # items 1, 2 and 3 tie; the ranking is 0, 1, 2, 3, 4 whatever order topk returns them in
    scores = torch.tensor([[0.9, 0.5, 0.5, 0.5, 0.1]]).repeat(3, 1)
    m = topk_metrics(scores, torch.tensor([1, 2, 3]), ks=(2, 3))
    assert m["hr@2"].tolist() == [1.0, 0.0, 0.0] and m["hr@3"].tolist() == [1.0, 1.0, 0.0]
    assert m["ndcg@3"][1].item() == pytest.approx(1 / math.log2(4))
    # a constant scorer (an untrained or popularity model on a cold catalogue) ranks by id
    m = topk_metrics(torch.zeros(2, 50), torch.tensor([0, 10]), ks=(10,))
    assert m["hr@10"].tolist() == [1.0, 0.0]


def test_topk_repeated_target_counts_once():
    scores = torch.tensor([[0.9, 0.8, 0.7]])
    m = topk_metrics(scores, torch.tensor([[0, 0, -1]]), ks=(1,))
    assert m["recall@1"].item() == 1.0 and m["ndcg@1"].item() == 1.0


def test_topk_errors():
    with pytest.raises(ValueError, match="larger than the number of items"):
        topk_metrics(torch.zeros(1, 3), torch.tensor([0]), ks=(5,))
    with pytest.raises(ValueError, match="out of range"):
        topk_metrics(torch.zeros(1, 3), torch.tensor([3]), ks=(1,))
    with pytest.raises(ValueError, match="at least one target"):
        topk_metrics(torch.zeros(1, 3), torch.tensor([[-1]]), ks=(1,))


def test_mean_metrics_over_batches():
    b1 = {"hr@1": torch.tensor([1.0, 0.0])}
    b2 = {"hr@1": torch.tensor([1.0])}
    assert mean_metrics([b1, b2]) == {"hr@1": pytest.approx(2 / 3)}


# -- bad input: a structaug error naming the argument, never NaN or a broadcast ----------------
from structaug.exceptions import DataValidationError, InvalidParameterError  # noqa: E402


@pytest.mark.parametrize(
    "fn, yt, yp, match",
    [
        (accuracy, [0, 1, 1], [0, 1], "3 values but y_pred has 2"),
        (balanced_accuracy, [], [], "empty"),
        (balanced_accuracy, [0, 1], np.array([[np.nan, 1.0], [0.2, 0.8]]), "y_pred holds 1 NaN"),
        (rmse, [1.0, 2.0], [1.0, np.nan], "y_pred holds 1 NaN"),
        (mae, [1.0, np.inf], [1.0, 2.0], "y_true holds 1 NaN or infinite"),
        (rmse, [], [], "empty"),
    ],
)
def test_metrics_reject_bad_input(fn, yt, yp, match):
    with pytest.raises(DataValidationError, match=match):
        fn(yt, yp)


def test_topk_rejects_nan_scores_bad_ks_and_negative_targets():
    scores = torch.tensor([[0.9, float("nan"), 0.1]])
    # torch.topk would rank the NaN item first: a NaN model would look like a perfect one
    with pytest.raises(DataValidationError, match="NaN"):
        topk_metrics(scores, torch.tensor([1]), ks=(1,))
    ok = torch.tensor([[0.9, 0.5, 0.1]])
    for ks in [(), (0,), (-1, 2), (1.5,)]:
        with pytest.raises(InvalidParameterError, match="ks"):
            topk_metrics(ok, torch.tensor([1]), ks=ks)
    with pytest.raises(InvalidParameterError, match="k=4 is larger"):
        topk_metrics(ok, torch.tensor([1]), ks=(4,))
    with pytest.raises(DataValidationError, match="negative item id -3"):
        topk_metrics(ok, torch.tensor([[1, -3]]), ks=(1,))
    with pytest.raises(DataValidationError, match="integer item ids"):
        topk_metrics(ok, torch.tensor([1.0]), ks=(1,))
    # -inf (a masked item) is a valid score, ranked last
    m = topk_metrics(torch.tensor([[float("-inf"), 0.5, 0.1]]), torch.tensor([0]), ks=(2,))
    assert m["hr@2"].item() == 0.0
    # no users: empty per-user tensors, not an error from max() of nothing
    m = topk_metrics(torch.zeros(0, 3), torch.zeros(0, dtype=torch.long), ks=(2,))
    assert m["ndcg@2"].shape == (0,)


def test_regression_and_classification_equal_sklearn_bit_for_bit():
    # the benchmarks moved from sklearn's functions to these: the numbers must not move
    from sklearn.metrics import (
        accuracy_score,
        balanced_accuracy_score,
        mean_absolute_error,
        mean_squared_error,
        r2_score,
    )

    from structaug.metrics import r2

    rng = np.random.default_rng(0)
    for _ in range(50):
        n = int(rng.integers(2, 300))
        yt = rng.normal(size=n) * rng.uniform(0.1, 1e3)
        yp = yt + rng.normal(size=n)
        assert rmse(yt, yp) == math.sqrt(mean_squared_error(yt, yp))
        assert mae(yt, yp) == mean_absolute_error(yt, yp) and r2(yt, yp) == r2_score(yt, yp)
        a, b = rng.integers(0, 4, n), rng.integers(0, 4, n)
        a[:4] = np.arange(4)  # every class present in y_true
        assert accuracy(a, b) == accuracy_score(a, b) and balanced_accuracy(a, b) == balanced_accuracy_score(a, b)
    assert r2([1.0, 2.0, 3.0], [1.0, 2.0, 3.0]) == 1.0 and r2([1.0, 2.0, 3.0], [2.0, 2.0, 2.0]) == 0.0
    with pytest.raises(ValueError, match="y_pred holds 1 NaN"):
        r2([1.0, 2.0], [1.0, float("nan")])


def test_topk_equals_pyg_link_pred_metrics():
    # structaug.metrics keeps its own implementation (see the module docstring): the values
    # are PyG's, user by user
    from torch_geometric.metrics import LinkPredHitRatio, LinkPredNDCG, LinkPredPrecision, LinkPredRecall

    g = torch.Generator().manual_seed(0)
    U, n_items = 64, 40
    scores = (torch.randn(U, n_items, generator=g) * 2).round()  # ties
    tgt = torch.randint(0, n_items, (U, 3), generator=g)
    tgt[::4, 2] = -1
    scores[torch.arange(U)[:, None].expand_as(tgt)[tgt >= 0], tgt[tgt >= 0]] += 2.0
    ours = topk_metrics(scores, tgt, (1, 5, 10))
    ranking = scores.sort(dim=1, descending=True, stable=True).indices  # ties: lower item id first
    valid = tgt >= 0
    rows = torch.arange(U)[:, None].expand_as(tgt)[valid]
    labels = torch.unique(torch.stack([rows, tgt[valid]]), dim=1)  # a repeated target counts once
    for k in (1, 5, 10):
        for name, cls in (
            ("hr", LinkPredHitRatio),
            ("recall", LinkPredRecall),
            ("precision", LinkPredPrecision),
            ("ndcg", LinkPredNDCG),
        ):
            m = cls(k)
            m.update(ranking[:, :k], labels)
            assert torch.isclose(ours[f"{name}@{k}"].mean(), m.compute(), rtol=1e-6, atol=0), (name, k)
