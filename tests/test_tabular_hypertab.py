"""HyperTab: FeatureSubsetViews, the batched hypernetwork, the sklearn estimators and the suite."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import make_classification, make_regression
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils.estimator_checks import parametrize_with_checks

from structaug.exceptions import DataValidationError, InvalidParameterError, NotFittedError
from structaug.tabular import FeatureSubsetViews, HyperTabClassifier, HyperTabRegressor
from structaug.tabular.hypertab._model import HyperTabNet
from structaug.testing import check_augmenter

FAST = dict(max_epochs=15, views=FeatureSubsetViews(n_views=8), masks_per_step=4, lr=1e-2, device="cpu")


@pytest.fixture(scope="module")
def toy():
    X, y = make_classification(
        n_samples=240, n_features=10, n_informative=5, n_redundant=0, class_sep=1.5, random_state=0
    )
    return X[:160], y[:160], X[160:], y[160:]


# -- FeatureSubsetViews -------------------------------------------------------------------
def test_views_pass_check_augmenter():
    X = np.random.default_rng(0).normal(size=(12, 6))
    check_augmenter(FeatureSubsetViews(random_state=0), X, sample_kwargs={"n": 5}, expected_type=np.ndarray)
    check_augmenter(FeatureSubsetViews(random_state=0), torch.as_tensor(X, dtype=torch.float32), sample_kwargs={"n": 5})


def test_views_masks_and_values():
    X = np.arange(1, 41, dtype=float).reshape(4, 10)
    aug = FeatureSubsetViews(subsample=0.3, random_state=1).fit(X)
    masks = aug.sample(None, 50)
    assert masks.shape == (50, 10) and masks.dtype == bool
    assert (masks.sum(1) == 3).all()  # exactly int(0.3 * 10) features per view
    views = aug.sample(X, 7, random_state=5)
    again = FeatureSubsetViews(subsample=0.3, random_state=1).fit(X).sample(X, 7, random_state=5)
    assert views.shape == (7, 4, 10) and np.array_equal(views, again)
    m = aug.sample(None, 7, random_state=5)
    assert np.array_equal(views != 0, np.broadcast_to(m[:, None, :], views.shape))  # dropped → fill 0
    assert len({tuple(r) for r in masks}) > 10  # masks vary


def test_views_keep_feature_groups_together():
    X = np.zeros((3, 6))
    aug = FeatureSubsetViews(subsample=0.5, random_state=0).fit(X, feature_groups=[0, 1, 1, 1, 2, 3])
    masks = aug.sample(None, 40)
    assert (masks[:, 1] == masks[:, 2]).all() and (masks[:, 2] == masks[:, 3]).all()
    assert aug.n_selected_ == 2
    with pytest.raises(DataValidationError, match="feature_groups"):
        FeatureSubsetViews().fit(X, feature_groups=[0, 1])
    with pytest.raises(ValueError, match="subsample"):
        FeatureSubsetViews(subsample=1.5).fit(X)


# -- the batched target networks ----------------------------------------------------------
# 1: the paper's target network (the default); 2: the reference's current code
@pytest.mark.parametrize("n_hidden_layers", [1, 2, 3])
def test_batched_forward_matches_one_network_at_a_time(n_hidden_layers):
    torch.manual_seed(0)
    d, k, c, M = 7, 3, 4, 5
    net = HyperTabNet(d, k, c, hidden_size=6, n_hidden_layers=n_hidden_layers)
    assert len(net.shapes) == n_hidden_layers + 1
    assert net.n_target_params == (6 * k + 6) + (n_hidden_layers - 1) * (6 * 6 + 6) + (c * 6 + c)
    x = torch.randn(9, d)
    xp = torch.cat([x, torch.zeros(9, 1)], 1)
    masks = torch.zeros(M, d)
    index = torch.stack([torch.randperm(d)[:k] for _ in range(M)])
    index[0, 2] = d  # a narrower view (one-hot groups make widths differ): padded with the zero column
    index[1, 1:] = d  # padded twice: the first layer scatters both pad weights onto one column
    real = [index[m][index[m] < d] for m in range(M)]
    for m in range(M):
        masks[m, real[m]] = 1.0
    out = net(xp, masks, index)
    assert out.shape == (M, 9, c)
    ws = net.weights(masks)
    for m in range(M):  # the reference's InsertableNet, one network at a time, on its real features
        h = x[:, real[m]]
        for j, (w, b) in enumerate(ws):
            h = h @ (w[m][:, : len(real[m])] if j == 0 else w[m]).T + b[m]
            if j < n_hidden_layers:
                h = torch.relu(h)
        torch.testing.assert_close(out[m], h, rtol=1e-5, atol=1e-5)


def test_batched_forward_gives_the_pad_column_no_gradient():
    """The pad column's generated weights meet zeros (repeated pads share one column of the
    dense first layer): they get no gradient, real features' weights do, as with a gather."""
    torch.manual_seed(0)
    d, k, h = 6, 3, 4
    net = HyperTabNet(d, k, 2, hidden_size=h)
    xp = torch.cat([torch.randn(5, d), torch.zeros(5, 1)], 1)
    index = torch.tensor([[0, 1, d], [2, d, d]])
    masks = torch.zeros(2, d)
    masks[0, [0, 1]] = 1.0
    masks[1, 2] = 1.0
    leaves = [(w.detach().requires_grad_(True), b.detach().requires_grad_(True)) for w, b in net.weights(masks)]
    net.weights = lambda _masks: leaves  # the generated weights as leaves, to read their gradients
    net(xp, masks, index).square().sum().backward()
    grad = leaves[0][0].grad  # (networks, hidden, k): first-layer weights per input slot
    for m, j in [(0, 2), (1, 1), (1, 2)]:
        assert (grad[m, :, j] == 0).all()
    assert (grad[0, :, :2] != 0).any()  # a real feature's weights learn (network 1's ReLUs may all be off)


def test_lr_auto_scales_with_masks_per_step(toy):
    Xtr, ytr, _, _ = toy
    fit = dict(max_epochs=1, views=FeatureSubsetViews(n_views=4), device="cpu", random_state=0)
    assert HyperTabClassifier(**fit).fit(Xtr, ytr).lr_ == pytest.approx(3e-4 * 5)  # 25 masks per step
    assert HyperTabClassifier(masks_per_step=1, **fit).fit(Xtr, ytr).lr_ == pytest.approx(3e-4)  # the reference's
    assert HyperTabClassifier(masks_per_step=4, lr=0.01, **fit).fit(Xtr, ytr).lr_ == 0.01
    for bad in ("fast", "AUTO", 0.0, -1e-3, float("nan"), None):
        with pytest.raises(InvalidParameterError, match="lr"):
            HyperTabClassifier(lr=bad, **fit).fit(Xtr, ytr)


# -- the estimators -----------------------------------------------------------------------
def test_classifier_learns_and_probabilities(toy):
    Xtr, ytr, Xte, yte = toy
    clf = HyperTabClassifier(
        max_epochs=40, views=FeatureSubsetViews(n_views=16), masks_per_step=4, lr=3e-3, device="cpu", random_state=0
    )
    clf.fit(Xtr, ytr)
    proba = clf.predict_proba(Xte)
    assert proba.shape == (80, 2) and np.allclose(proba.sum(1), 1)
    assert clf.score(Xte, yte) > 0.8  # chance is 0.5
    assert clf.masks_.shape == (16, 10) and (clf.masks_.sum(1) == 5).all()
    assert clf.train_result_.epochs_run == 40
    # the reference's current two-hidden-layer target network (the default is the paper's one)
    two = clone(clf).set_params(n_hidden_layers=2).fit(Xtr, ytr)
    assert two.score(Xte, yte) > 0.8
    assert two.net_.head.out_features == clf.net_.head.out_features + 10 * 10 + 10  # one more 10 x 10 layer


def test_same_seed_same_predictions(toy):
    Xtr, ytr, Xte, _ = toy
    torch.manual_seed(7)
    expected = torch.rand(3)
    torch.manual_seed(7)
    a = HyperTabClassifier(**FAST, random_state=3).fit(Xtr, ytr).predict_proba(Xte)
    assert torch.equal(torch.rand(3), expected)  # fit leaves the caller's torch stream alone
    b = HyperTabClassifier(**FAST, random_state=3).fit(Xtr, ytr).predict_proba(Xte)
    c = HyperTabClassifier(**FAST, random_state=4).fit(Xtr, ytr).predict_proba(Xte)
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_string_labels_dataframe_and_categoricals():
    rng = np.random.default_rng(0)
    n = 120
    df = pd.DataFrame(
        {
            "x1": rng.normal(size=n),
            "x2": rng.normal(size=n),
            "colour": pd.Categorical(rng.choice(["red", "green", "blue"], n)),
            "shop": rng.choice(["a", "b"], n),
        }
    )
    y = np.where(df["x1"] + (df["colour"] == "red") > 0.5, "yes", "no")
    clf = HyperTabClassifier(**FAST, random_state=0).fit(df, y)
    assert clf.classes_.tolist() == ["no", "yes"]
    assert set(clf.predict(df)) <= {"no", "yes"}
    assert clf.feature_names_in_.tolist() == ["x1", "x2", "colour", "shop"]
    new = df.head(5).assign(colour=["purple"] * 5)  # unseen category → the unknown code
    assert len(clf.predict(new)) == 5
    # a whole categorical feature is kept or dropped by each mask
    g = clf.encoder_.feature_groups_
    cols = np.flatnonzero(g == 2)
    assert (clf.masks_[:, cols] == clf.masks_[:, cols[:1]]).all()


def test_pipeline_cross_val_and_grid_search(toy):
    Xtr, ytr, _, _ = toy
    pipe = make_pipeline(FunctionTransformer(), HyperTabClassifier(**FAST, random_state=0))
    scores = cross_val_score(pipe, Xtr, ytr, cv=StratifiedKFold(3, shuffle=True, random_state=0))
    assert scores.shape == (3,) and scores.mean() > 0.6
    gs = GridSearchCV(HyperTabClassifier(**FAST, random_state=0), {"views__subsample": [0.3, 0.7]}, cv=2)
    gs.fit(Xtr, ytr)
    assert gs.best_params_["views__subsample"] in (0.3, 0.7)
    assert gs.best_estimator_.views_.subsample == gs.best_params_["views__subsample"]
    assert FAST["views"].subsample == 0.5 and not hasattr(FAST["views"], "n_features_in_")  # never mutated


def test_class_weight_balanced_helps_minority():
    X, y = make_classification(n_samples=300, n_features=6, weights=[0.9, 0.1], class_sep=1.0, random_state=1)
    kw = dict(
        max_epochs=20, views=FeatureSubsetViews(n_views=8), masks_per_step=4, lr=3e-3, device="cpu", random_state=0
    )
    plain = HyperTabClassifier(**kw).fit(X, y).predict(X)
    bal = HyperTabClassifier(**kw, class_weight="balanced").fit(X, y).predict(X)
    assert (bal == 1).sum() > (plain == 1).sum()
    # the weights the loss gets: sklearn's "balanced" formula, or a dict by class label
    from sklearn.utils.class_weight import compute_class_weight

    est = HyperTabClassifier(class_weight="balanced")
    est.classes_ = np.array([0, 1])
    want = compute_class_weight("balanced", classes=np.array([0, 1]), y=y)
    torch.testing.assert_close(est._class_weight(y, "cpu"), torch.tensor(want, dtype=torch.float32))
    est.class_weight = {1: 5.0}
    assert est._class_weight(y, "cpu").tolist() == [1.0, 5.0]


def test_regressor_learns():
    X, y = make_regression(n_samples=200, n_features=8, n_informative=8, noise=1.0, random_state=0)
    reg = HyperTabRegressor(
        max_epochs=40, views=FeatureSubsetViews(n_views=16), masks_per_step=4, lr=3e-3, device="cpu", random_state=0
    )
    reg.fit(X[:150], y[:150])
    assert reg.score(X[150:], y[150:]) > 0.5  # R² of a predict-the-mean model is ~0


def test_early_stopping_uses_validation_split(toy):
    Xtr, ytr, _, _ = toy
    clf = HyperTabClassifier(**{**FAST, "max_epochs": 60}, patience=2, random_state=0).fit(Xtr, ytr)
    r = clf.train_result_
    val = [h["val_loss"] for h in r.history]
    assert r.best_epoch == int(np.argmin(val)) and r.best_score == min(val)
    # patience 2: it stopped two epochs after the best one (or ran the whole budget)
    assert (r.stopped_early and r.epochs_run == r.best_epoch + 3) or r.epochs_run == 60


def test_fixed_budget_keeps_the_last_epoch(toy, monkeypatch):
    """Without early stopping the paper trains a fixed number of epochs and keeps the final weights."""
    import structaug.tabular.hypertab._model as ht

    seen = {}

    class Spy(ht.Trainer):
        def __init__(self, **kw):
            seen.update(kw)
            super().__init__(**kw)

    monkeypatch.setattr(ht, "Trainer", Spy)
    Xtr, ytr, _, _ = toy
    HyperTabClassifier(**FAST, random_state=0).fit(Xtr, ytr)
    assert seen["restore_best"] is False and seen["patience"] is None
    HyperTabClassifier(**FAST, patience=10, random_state=0).fit(Xtr, ytr)
    assert seen["restore_best"] is True and seen["patience"] == 10
    with pytest.warns(UserWarning, match="at least 10 training rows"):
        HyperTabClassifier(**FAST, patience=10, random_state=0).fit(Xtr[:8], np.r_[ytr[:4] * 0, ytr[:4] * 0 + 1])


# -- bad input ----------------------------------------------------------------------------
def test_bad_inputs(toy):
    Xtr, ytr, _, _ = toy
    clf = HyperTabClassifier(**FAST, random_state=0)
    with pytest.raises(NotFittedError):
        clf.predict(Xtr)
    with pytest.raises(DataValidationError, match="inconsistent numbers of samples"):
        clf.fit(Xtr, ytr[:-3])
    with pytest.raises(DataValidationError, match="1 class"):
        clf.fit(Xtr, np.zeros(len(Xtr)))
    bad = Xtr.copy()
    bad[0, 0] = np.nan
    with pytest.raises(DataValidationError, match="NaN"):
        clf.fit(bad, ytr)
    bad[0, 0] = np.inf
    with pytest.raises(DataValidationError, match="inf"):
        clf.fit(bad, ytr)
    with pytest.raises(ValueError, match="requires y"):
        clf.fit(Xtr, None)
    fitted = HyperTabClassifier(**FAST, random_state=0).fit(Xtr, ytr)
    with pytest.raises(DataValidationError, match="X has 3 features, but HyperTabClassifier is expecting 10"):
        fitted.predict(Xtr[:, :3])
    with pytest.raises(ValueError, match="subsample"):
        HyperTabClassifier(views=FeatureSubsetViews(subsample=0)).fit(Xtr, ytr)
    with pytest.raises(ValueError, match="views must be a FeatureSubsetViews"):
        HyperTabClassifier(views=0.5).fit(Xtr, ytr)
    for bad in (0, -1, 1.5, True):
        with pytest.raises(InvalidParameterError, match="n_hidden_layers"):
            HyperTabClassifier(n_hidden_layers=bad).fit(Xtr, ytr)


def test_nan_impute_constant_column_and_p_greater_than_n():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 80))  # p > n
    X[:, 5] = 3.0  # constant column: standardised to 0, kept
    y = (X[:, 0] > 0).astype(int)
    X[2, 7] = np.nan
    clf = HyperTabClassifier(**FAST, missing="impute", random_state=0).fit(X, y)
    assert 5 in clf.encoder_.constant_features_.tolist()
    assert np.isfinite(clf.predict_proba(X)).all()


# -- sklearn's estimator checks -----------------------------------------------------------
# No check is skipped: with a small budget both estimators pass all of sklearn's checks
# (check_array_api_input skips itself when SCIPY_ARRAY_API is unset).
CHECK_KW = dict(
    max_epochs=20, views=FeatureSubsetViews(n_views=4), masks_per_step=4, lr=2e-2, random_state=0, device="cpu"
)
CHECK_KW_REG = dict(
    max_epochs=20, views=FeatureSubsetViews(n_views=8), masks_per_step=8, lr=1e-2, random_state=0, device="cpu"
)


@parametrize_with_checks([HyperTabClassifier(**CHECK_KW), HyperTabRegressor(**CHECK_KW_REG)])
def test_sklearn_estimator_checks(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        check(estimator)


# -- device -------------------------------------------------------------------------------
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_fit_predict(toy):
    Xtr, ytr, Xte, _ = toy
    clf = HyperTabClassifier(**{**FAST, "device": "cuda"}, random_state=0).fit(Xtr, ytr)
    assert clf.net_.head.weight.is_cuda and clf.predict(Xte).shape == (80,)


@pytest.mark.slow
def test_thousand_rows_sixty_features_hundred_views_in_seconds():
    import time

    X, y = make_classification(n_samples=1000, n_features=60, n_informative=15, random_state=0)
    t0 = time.perf_counter()
    HyperTabClassifier(masks_per_step=10, device="cpu", random_state=0).fit(X, y)
    assert time.perf_counter() - t0 < 60


# -- the benchmark suite ------------------------------------------------------------------
def test_suite_runs_records_failures_resumes_and_reports(tmp_path):
    from structaug.bench import BenchConfig
    from structaug.bench import tabular as bench

    out = tmp_path / "tab.json"
    with pytest.raises(ValueError, match="no_such_table"):  # an unknown name fails before any job starts
        bench.run(BenchConfig(datasets=["sk_iris", "no_such_table"], seeds=[0], out=out, workers=1))
    cfg = BenchConfig(
        datasets=["sk_iris"],
        seeds=[0],
        out=out,
        workers=1,
        extra={
            "methods": "HyperTab,LogisticRegression",
            "folds": 2,
            "hypertab_epochs": 3,
            "hypertab_views": 4,
            "hypertab_masks_per_step": 4,
        },
    )
    recs = bench.run(cfg)
    by = {(r.method, r.dataset): r.to_dict() for r in recs}
    assert by[("HyperTab", "sk_iris")]["status"] == "ok"
    assert set(by[("HyperTab", "sk_iris")]["metrics"]) == {"accuracy", "balanced_accuracy"}
    assert out.exists() and not out.with_suffix(".partial.jsonl").exists()  # run() saved every row in --out
    # resume: the finished dataset is not run again
    cfg2 = BenchConfig(datasets=["sk_iris"], seeds=[0], out=out, resume=True, extra=cfg.extra)
    again = bench.run(cfg2)
    assert [r.fit_time for r in again if r.dataset == "sk_iris" and r.method == "HyperTab"] == [
        by[("HyperTab", "sk_iris")]["fit_time"]
    ]
    out.write_text(
        json.dumps(
            {"environment": {}, "config": {"note": "HyperTab rows rerun"}, "records": [r.to_dict() for r in recs]}
        )
    )
    bench.report(recs, out)
    md = out.with_suffix(".md").read_text()
    assert "small track" in md and "Note: HyperTab rows rerun" in md
    try:
        import matplotlib  # noqa: F401  (the `plot` extra)
    except ImportError:  # the report still has its tables and says why the plot is missing
        assert "rank plot not drawn" in md and "structaug[plot]" in md
        assert not (tmp_path / "tab_ranks.png").exists()
    else:
        assert (tmp_path / "tab_ranks.png").exists()


def test_suite_tjepa_heads_share_one_pretraining_per_fold_and_record_cpu_time(tmp_path, monkeypatch):
    from structaug.bench import BenchConfig
    from structaug.bench import tabular as bench
    from structaug.tabular.tjepa import TJEPA

    calls = []
    real_fit = TJEPA.fit

    def counting_fit(self, X, y=None):
        calls.append(len(X))
        return real_fit(self, X, y)

    monkeypatch.setattr(TJEPA, "fit", counting_fit)
    cfg = BenchConfig(
        datasets=["sk_iris"],
        seeds=[0],
        out=tmp_path / "t.json",
        workers=1,
        extra={"methods": "T-JEPA+MLP,T-JEPA+XGBoost", "folds": 2, "tjepa_epochs": 1, "tjepa_encoder": "cpu"},
    )
    recs = bench.run(cfg)
    assert [r.status for r in recs] == ["ok", "ok"]
    assert len(calls) == 2  # one pre-training per fold, not one per (head, fold)
    for r in recs:
        assert r.config["budget"]["tjepa_encoder"] == "cpu"
        assert r.extra["fit_cpu_time_per_fold"] > 0
    assert (
        bench._tjepa(
            "classification", 0, bench._budget({"tjepa_encoder": "cpu"}, False), "cpu", "mlp"
        ).encoder.hidden_size
        == bench.TJEPA_CPU_CONFIG["hidden_size"]
    )
    assert bench._tjepa("classification", 0, bench._budget({}, False), "cpu", "mlp").encoder.hidden_size == 64  # paper
    # every CPU-config name is a TJEPA parameter (set_params would refuse another)
    assert set(bench.TJEPA_CPU_CONFIG) <= set(TJEPA().get_params(deep=False))


def test_reference_wrapper_encodes_inputs_and_maps_labels_back(monkeypatch):
    import sys
    import types

    from structaug.bench import tabular as bench

    seen = {}

    class FakeReference:  # the PyPI package's interface: float matrix in, class indices out
        def __init__(self, subsample, device, test_nodes, epochs, batch_size):
            seen.update(test_nodes=test_nodes, epochs=epochs)

        def fit(self, X, y):
            seen.update(X=X, y=y)

        def predict(self, X):
            return np.arange(len(X)) % 2

    monkeypatch.setitem(sys.modules, "hypertab", types.SimpleNamespace(HyperTabClassifier=FakeReference))
    X = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "c": pd.Categorical(["x", "y", "x", "y"])})
    est = bench._factory("hypertab (reference)")("classification", 0, bench._budget({}, False), "cpu")
    est.fit(X, pd.Series(["no", "yes", "no", "yes"]))
    assert seen["X"].dtype == np.float32 and seen["X"].shape[0] == 4
    assert seen["X"].shape[1] >= 3  # the category is one-hot encoded (plus its "unknown" column)
    assert list(seen["y"]) == [0, 1, 0, 1] and seen["test_nodes"] == 100 and seen["epochs"] == 100  # the suite's budget
    assert list(est.predict(X)) == ["no", "yes", "no", "yes"]
    with pytest.raises(bench._Skip):
        bench._factory("hypertab (reference)")("regression", 0, bench._budget({}, False), "cpu")


# -- the views augmenter as a parameter ---------------------------------------------------
def test_views_instance_is_a_nested_parameter_cloned_in_fit(toy):
    Xtr, ytr, _, _ = toy
    views = FeatureSubsetViews(subsample=0.3, n_views=5)
    clf = HyperTabClassifier(**{**FAST, "views": views}, random_state=0)
    assert clf.get_params(deep=True)["views__n_views"] == 5
    clf.set_params(views__n_views=6)
    assert views.n_views == 6  # set_params reaches the instance, as in scikit-learn
    clf.fit(Xtr, ytr)
    assert not hasattr(views, "n_features_in_") and views.random_state is None  # never fitted nor seeded
    assert clf.views_ is not views and clf.views_.n_features_in_ == 10
    assert clf.masks_.shape == (6, 10) and (clf.masks_.sum(1) == 3).all()  # n_views masks of int(0.3 * 10)
    assert clf.predict_proba(Xtr).shape == (160, 2)
    # None means the paper's augmenter: FeatureSubsetViews() = 100 views of half the features
    default = HyperTabClassifier(max_epochs=1, device="cpu", random_state=0).fit(Xtr[:40], ytr[:40])
    assert default.masks_.shape == (100, 10) and (default.masks_.sum(1) == 5).all()


def test_views_random_state_seeds_the_mask_pool(toy):
    Xtr, ytr, _, _ = toy
    kw = {**FAST, "max_epochs": 1}
    a = HyperTabClassifier(**{**kw, "views": FeatureSubsetViews(n_views=8, random_state=7)}, random_state=0)
    b = HyperTabClassifier(**{**kw, "views": FeatureSubsetViews(n_views=8, random_state=7)}, random_state=1)
    c = HyperTabClassifier(**{**kw, "views": FeatureSubsetViews(n_views=8)}, random_state=0)
    ma, mb, mc = (m.fit(Xtr, ytr).masks_ for m in (a, b, c))
    assert np.array_equal(ma, mb)  # the augmenter's own seed decides the pool
    assert not np.array_equal(ma, mc)  # unset: drawn from the estimator's seed


def test_large_tables_are_validated_and_predicted_in_row_chunks(monkeypatch):
    """Past ~4M values per pass, validation and prediction run in row chunks (memory flat in
    the number of rows): the same loss and probabilities as one pass, to float rounding."""
    from structaug.tabular import HyperTabClassifier
    from structaug.tabular.hypertab import _model

    X, y = make_classification(400, 8, random_state=0)
    y[:300] = 0  # unbalanced: the class-weighted mean must weight the chunks right
    kw = dict(max_epochs=3, patience=3, random_state=0, class_weight="balanced")
    one = HyperTabClassifier(**kw).fit(X, y)
    monkeypatch.setattr(_model._HyperTabBase, "_chunk_rows", lambda self, n_views, width: 7)
    chunked = HyperTabClassifier(**kw).fit(X, y)
    one_val = [h["val_loss"] for h in one.train_result_.history]
    chunked_val = [h["val_loss"] for h in chunked.train_result_.history]
    assert chunked_val == pytest.approx(one_val, rel=1e-6) and len(one_val) == 3
    # the same fitted model, predicted in chunks of 7 rows, reduced per chunk
    monkeypatch.setattr(_model._HyperTabBase, "_chunk_rows", lambda self, n_views, width: 10**9)
    p_one = one.predict_proba(X)
    monkeypatch.setattr(_model._HyperTabBase, "_chunk_rows", lambda self, n_views, width: 7)
    np.testing.assert_allclose(one.predict_proba(X), p_one, rtol=0, atol=1e-12)
    # and the rows encoded in blocks (arrays and frames alike)
    monkeypatch.setattr(_model, "_ENCODE_ROWS", 13)
    np.testing.assert_allclose(one.predict_proba(X), p_one, rtol=0, atol=1e-12)
    np.testing.assert_allclose(one.predict_proba(pd.DataFrame(X)), p_one, rtol=0, atol=1e-12)
