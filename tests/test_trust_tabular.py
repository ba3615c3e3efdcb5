"""Issue #20 for tables: every bad input is a structaug error naming the argument, raised
before any training, or a documented behaviour whose values are asserted here.

Covers HyperTab (classifier, regressor), T-JEPA (encoder, classifier, regressor), the
shared TableEncoder and the two augmenters (FeatureSubsetViews, JEPAMasking). Tiny tables,
one epoch, three views: the whole file runs in seconds.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch

from structaug.exceptions import DataValidationError, InvalidParameterError, NotFittedError
from structaug.tabular import (
    TJEPA,
    FeatureSubsetViews,
    HyperTabClassifier,
    HyperTabRegressor,
    JEPAMasking,
    MLPClassifierTorch,
    MLPRegressorTorch,
    TableEncoder,
    TJEPAClassifier,
    TJEPARegressor,
)
from structaug.tabular._mlp import MLPHead

TINY = dict(
    hidden_size=8,
    n_layers=1,
    n_heads=2,
    inner_size=16,
    predictor_hidden_size=8,
    predictor_n_layers=1,
    predictor_n_heads=2,
    predictor_inner_size=16,
    batch_size=32,
    max_epochs=1,
    lr=1e-3,
    warmup_epochs=1,
    device="cpu",
)
HT = dict(max_epochs=1, views=FeatureSubsetViews(n_views=3), device="cpu", random_state=0)


def hypertab_clf(**kw):
    return HyperTabClassifier(**{**HT, **kw})


def hypertab_reg(**kw):
    return HyperTabRegressor(**{**HT, **kw})


def tjepa_clf(**kw):
    return TJEPAClassifier(
        **{**dict(encoder=TJEPA(**TINY), hidden_sizes=(8,), max_epochs=1, device="cpu", random_state=0), **kw}
    )


def tjepa_reg(**kw):
    return TJEPARegressor(
        **{**dict(encoder=TJEPA(**TINY), hidden_sizes=(8,), max_epochs=1, device="cpu", random_state=0), **kw}
    )


def tjepa(**kw):
    return TJEPA(**{**TINY, "random_state": 0, **kw})


def table_encoder(**kw):
    return TableEncoder(**kw)


def mlp_clf(**kw):
    return MLPClassifierTorch(**{**dict(hidden_sizes=(8,), max_epochs=1, device="cpu", random_state=0), **kw})


def mlp_reg(**kw):
    return MLPRegressorTorch(**{**dict(hidden_sizes=(8,), max_epochs=1, device="cpu", random_state=0), **kw})


# name -> (factory, task): task is "clf", "reg" or None (unsupervised: fit(X) / transform)
MODELS = {
    "HyperTabClassifier": (hypertab_clf, "clf"),
    "HyperTabRegressor": (hypertab_reg, "reg"),
    "TJEPAClassifier": (tjepa_clf, "clf"),
    "TJEPARegressor": (tjepa_reg, "reg"),
    "TJEPA": (tjepa, None),
    "TableEncoder": (table_encoder, None),
    "MLPClassifierTorch": (mlp_clf, "clf"),  # the plain-MLP baseline of the tabular benchmark
    "MLPRegressorTorch": (mlp_reg, "reg"),
}
SUPERVISED = [n for n, (_, t) in MODELS.items() if t]
IMPUTES_NAN = {"MLPClassifierTorch", "MLPRegressorTorch"}  # the baseline always uses missing="impute"

RNG = np.random.default_rng(0)
X = RNG.normal(size=(20, 4))
Y_CLF = np.array([0, 1] * 10)
Y_REG = RNG.normal(size=20)


def _y(task):
    return {"clf": Y_CLF, "reg": Y_REG}.get(task)


def _fit(est, task, X_, y_=None):
    return est.fit(X_) if task is None else est.fit(X_, _y(task) if y_ is None else y_)


def _out(est, task, X_):
    return est.transform(X_) if task is None else est.predict(X_)


@pytest.fixture(scope="module")
def fitted():
    """Every model fitted once on the 20 x 4 toy table."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {name: _fit(make(), task, X) for name, (make, task) in MODELS.items()}


@pytest.fixture
def no_training(monkeypatch):
    """Make any training loop fail the test: errors must come before the first epoch."""
    from structaug.train import Trainer

    def fail(*args, **kwargs):
        raise AssertionError("training started before the bad input was rejected")

    monkeypatch.setattr(Trainer, "fit", fail)


# -- reported case 1: a category column in FeatureSubsetViews ------------------------------
CAT_FRAME = pd.DataFrame({"a": RNG.normal(size=6), "colour": pd.Categorical(list("rgbrgb")), "name": list("pqrstu")})


@pytest.mark.parametrize("stage", ["fit", "sample"])
def test_views_reject_category_columns_naming_them(stage):
    views = FeatureSubsetViews(random_state=0)
    if stage == "sample":  # fitted on the numeric part, then handed the categories
        views.fit(CAT_FRAME[["a"]].assign(b=1.0, c=2.0))
    with pytest.raises(DataValidationError, match=r"X has non-numeric .*\['colour', 'name'\].*TableEncoder"):
        views.fit(CAT_FRAME) if stage == "fit" else views.sample(CAT_FRAME, 2)


def test_views_reject_text_in_an_object_array():
    arr = CAT_FRAME.to_numpy()  # object array: float, category strings, strings
    with pytest.raises(DataValidationError, match=r"non-numeric .*\[1, 2\]"):
        FeatureSubsetViews(random_state=0).fit(arr)


def test_views_documented_route_for_categories_keeps_each_category_whole():
    enc = TableEncoder(encoding="onehot").fit(CAT_FRAME)
    Z = enc.transform(CAT_FRAME)
    views = FeatureSubsetViews(subsample=0.5, random_state=0).fit(Z, feature_groups=enc.feature_groups_)
    masks = views.sample(None, 20)
    assert masks.shape == (20, Z.shape[1])
    for g in np.unique(enc.feature_groups_):  # the indicator columns of one feature move together
        cols = masks[:, enc.feature_groups_ == g]
        assert (cols == cols[:, :1]).all()
    assert masks.reshape(20, -1)[:, np.r_[0]].any()  # the numeric feature is kept sometimes
    V = views.sample(Z, 3)
    assert V.shape == (3, 6, Z.shape[1]) and np.isin(V, [0.0, *np.unique(Z)]).all()


# -- reported case 2: wrong feature count at predict/transform -----------------------------
@pytest.mark.parametrize("name", list(MODELS))
@pytest.mark.parametrize("width", [3, 5])
def test_wrong_feature_count_names_both_counts(fitted, name, width):
    est = fitted[name]
    task = MODELS[name][1]
    Xw = RNG.normal(size=(5, width))
    with pytest.raises(DataValidationError, match=f"X has {width} features, but {name} is expecting 4 features"):
        _out(est, task, Xw)


@pytest.mark.parametrize(
    "make",
    [lambda: FeatureSubsetViews(random_state=0), lambda: JEPAMasking(random_state=0)],
    ids=["FeatureSubsetViews", "JEPAMasking"],
)
@pytest.mark.parametrize("kind", ["numpy", "torch"])
def test_augmenters_wrong_feature_count_names_both_counts(make, kind):
    aug = make().fit(X)
    Xw = X[:, :3] if kind == "numpy" else torch.as_tensor(X[:, :3])
    with pytest.raises(DataValidationError, match=f"X has 3 features, but {type(aug).__name__} is expecting 4"):
        aug.sample(Xw, 5) if isinstance(aug, FeatureSubsetViews) else aug.sample(Xw)


# -- reported case 3: zero/negative/NaN hyperparameters, before any training ---------------
NAN = float("nan")
BAD_PARAMS = [
    # (model, params, parameter named in the message)
    *[
        ("HyperTabClassifier", p, n)
        for p, n in [
            ({"batch_size": 0}, "batch_size"),
            ({"max_epochs": 0}, "max_epochs"),
            ({"max_epochs": -1}, "max_epochs"),
            ({"lr": 0}, "lr"),
            ({"lr": NAN}, "lr"),
            ({"lr": -1e-3}, "lr"),
            ({"lr": "fast"}, "lr"),
            ({"views": FeatureSubsetViews(n_views=0)}, "n_views"),
            ({"hidden_size": 0}, "hidden_size"),
            ({"views": FeatureSubsetViews(subsample=0)}, "subsample"),
            ({"views": FeatureSubsetViews(subsample=NAN)}, "subsample"),
            ({"views": FeatureSubsetViews(subsample=1.5)}, "subsample"),
            ({"views": "half"}, "views"),
            ({"masks_per_step": 0}, "masks_per_step"),
            ({"hypernet_hidden_sizes": (64, 0)}, r"hypernet_hidden_sizes\[1\]"),
            ({"hypernet_hidden_sizes": ()}, "hypernet_hidden_sizes"),
            ({"weight_decay": -1.0}, "weight_decay"),
            ({"weight_decay": NAN}, "weight_decay"),
            ({"patience": 0}, "patience"),
            ({"validation_fraction": 1.0}, "validation_fraction"),
            ({"batch_size": 2.5}, "batch_size"),
            ({"class_weight": "equal"}, "class_weight"),
            ({"class_weight": {0: -1.0}}, r"class_weight\[0\]"),
            ({"missing": "drop"}, "missing"),
            ({"device": "tpu9"}, "device"),
            ({"categorical_features": "all"}, "categorical_features"),
            ({"patience": "yes"}, "patience"),
            ({"verbose": "yes"}, "verbose"),
        ]
    ],
    ("HyperTabRegressor", {"views": FeatureSubsetViews(n_views=-3)}, "n_views"),
    *[
        ("TJEPA", p, n)
        for p, n in [
            ({"batch_size": 0}, "batch_size"),
            ({"max_epochs": 0}, "max_epochs"),
            ({"lr": 0}, "lr"),
            ({"lr": NAN}, "lr"),
            ({"weight_decay": -1.0}, "weight_decay"),
            ({"dropout": 1.0}, "dropout"),
            ({"dropout": NAN}, "dropout"),
            ({"predictor_dropout": 2.0}, "predictor_dropout"),
            ({"masking": JEPAMasking(n_targets=0)}, "n_targets"),
            ({"masking": JEPAMasking(min_context_share=0)}, "min_context_share"),
            ({"masking": JEPAMasking(min_context_share=0.5, max_context_share=0.3)}, "min_context_share"),
            ({"masking": "random"}, "masking"),
            ({"verbose": "yes"}, "verbose"),
            ({"ema_start": NAN}, "ema_start"),
            ({"ema_start": 1.0, "ema_end": 0.99}, "ema_start"),
            ({"grad_clip": 0}, "grad_clip"),
            ({"grad_clip": -1.0}, "grad_clip"),
            ({"start_lr": -1.0}, "start_lr"),
            ({"final_lr": NAN}, "final_lr"),
            ({"final_weight_decay": -1.0}, "final_weight_decay"),
            ({"patience": 0}, "patience"),
            ({"hidden_size": 6, "n_heads": 4}, "hidden_size"),
            ({"predictor_hidden_size": 6, "predictor_n_heads": 4}, "predictor_hidden_size"),
            ({"hidden_size": 7, "n_heads": 1}, "hidden_size"),
            ({"representation": "mean"}, "representation"),
            ({"missing": "x"}, "missing"),
            ({"handle_unknown": "x"}, "handle_unknown"),
            ({"type_embedding": "no"}, "type_embedding"),
            ({"device": "tpu9"}, "device"),
        ]
    ],
    *[
        ("TJEPAClassifier", p, n)
        for p, n in [
            ({"batch_size": 0}, "batch_size"),
            ({"max_epochs": 0}, "max_epochs"),
            ({"lr": 0}, "lr"),
            ({"lr": NAN}, "lr"),
            ({"hidden_sizes": (0,)}, r"hidden_sizes\[0\]"),
            ({"hidden_sizes": 8}, "hidden_sizes"),
            ({"dropout": 1.5}, "dropout"),
            ({"patience": 0}, "patience"),
            ({"validation_fraction": 0}, "validation_fraction"),
            ({"head": "svm"}, "head"),
            ({"pretrain_epochs": 0}, "pretrain_epochs"),
            ({"weight_decay": -1.0}, "weight_decay"),
            ({"xgb_params": [1]}, "xgb_params"),
            ({"encoder": "tjepa"}, "encoder"),
            ({"encoder": TJEPA(**{**TINY, "batch_size": 0})}, "batch_size"),
            ({"pretrained": True, "encoder": None}, "encoder"),
            ({"device": "tpu9"}, "device"),
        ]
    ],
    ("TJEPARegressor", {"batch_size": -1}, "batch_size"),
    ("MLPClassifierTorch", {"hidden_sizes": (0,)}, r"hidden_sizes\[0\]"),
    ("MLPRegressorTorch", {"lr": NAN}, "lr"),
    *[
        ("TableEncoder", p, n)
        for p, n in [
            ({"encoding": "binary"}, "encoding"),
            ({"missing": "zero"}, "missing"),
            ({"handle_unknown": "drop"}, "handle_unknown"),
            ({"categorical_features": [7]}, "categorical_features"),
            ({"categorical_features": ["nope"]}, "categorical_features"),
            ({"categorical_features": "all"}, "categorical_features"),
            ({"standardize": "yes"}, "standardize"),
        ]
    ],
]


@pytest.mark.parametrize(
    "name, params, pname", BAD_PARAMS, ids=[f"{m}-{'-'.join(map(str, p))}" for m, p, _ in BAD_PARAMS]
)
def test_bad_hyperparameter_is_named_before_training(no_training, name, params, pname):
    make, task = MODELS[name]
    with pytest.raises(InvalidParameterError, match=pname):
        _fit(make(**params), task, X)


@pytest.mark.parametrize(
    "make, pname",
    [
        (lambda: FeatureSubsetViews(subsample=0), "subsample"),
        (lambda: FeatureSubsetViews(n_views=0), "n_views"),
        (lambda: FeatureSubsetViews(fill_value="zero"), "fill_value"),
        (lambda: FeatureSubsetViews(fill_value=float("inf")), "fill_value"),
        (lambda: JEPAMasking(n_targets=0), "n_targets"),
        (lambda: JEPAMasking(min_target_share=0.4, max_target_share=0.2), "min_target_share"),
        (
            lambda: JEPAMasking(
                min_context_share=0.7, min_target_share=0.7, max_context_share=0.8, max_target_share=0.8
            ),
            "min_context_share",
        ),
        (lambda: MLPHead(hidden_sizes=(4, -1)), r"hidden_sizes\[1\]"),
        (lambda: MLPHead(task="ranking"), "task"),
    ],
)
def test_augmenter_and_head_parameters_are_named(make, pname):
    with pytest.raises(InvalidParameterError, match=pname):
        make().fit(X, Y_CLF) if isinstance(make(), MLPHead) else make().fit(X)


def test_class_weight_with_a_label_that_is_not_a_class_is_rejected(no_training):
    # before: {"1": 5} on integer labels was ignored silently (every class weight 1)
    with pytest.raises(InvalidParameterError, match=r"class_weight has labels \['1'\]"):
        hypertab_clf(class_weight={"1": 5.0}).fit(X, Y_CLF)


def test_class_weight_with_real_labels_is_used():
    clf = hypertab_clf(class_weight={1: 5.0}).fit(X, Y_CLF)
    w = clf._class_weight(np.array([0, 1]), torch.device("cpu"))
    assert w.tolist() == [1.0, 5.0]


# -- the bad-input suite ---------------------------------------------------------------------
def _with(arr, i, j, value):
    out = np.array(arr, dtype=object if isinstance(value, str) else float)
    out[i, j] = value
    return out


BAD_X = {  # fit on these: every model must raise DataValidationError naming X
    "empty_rows": (np.zeros((0, 4)), r"X: Found array with 0 sample"),
    "empty_columns": (np.zeros((20, 0)), r"X: Found array with 0 feature"),
    "nan": (_with(X, 3, 2, np.nan), r"X contains NaN .*column\(s\) \[2\]"),
    "inf": (_with(X, 3, 1, np.inf), r"X contains infinite values in column 1"),
    "minus_inf": (_with(X, 0, 0, -np.inf), r"X contains infinite values in column 0"),
    "number_column_with_text": (_with(X, 5, 2, "?"), r"X column 2 holds numbers mixed with text \['\?'\]"),
    "one_d": (X[:, 0], r"X: Expected 2D array"),
    "three_d": (X[:, :, None], r"X: Found array with dim 3"),
    "complex": (X + 1j, r"X: Complex data not supported"),
    "sparse": (sp.csr_matrix(X), r"X: Sparse data was passed"),
    "duplicate_column_names": (pd.DataFrame(X, columns=list("abba")), r"X has duplicate column names \['b', 'a'\]"),
    "period_column": (
        pd.DataFrame({"a": X[:, 0], "b": X[:, 1], "p": pd.period_range("2020", periods=20)}),
        r"X column 'p' has dtype period",
    ),
}


@pytest.mark.parametrize("name, case", [(n, c) for n in MODELS for c in BAD_X if not (c == "nan" and n in IMPUTES_NAN)])
def test_bad_X_in_fit_is_a_data_error_naming_X(no_training, name, case):
    make, task = MODELS[name]
    Xb, msg = BAD_X[case]
    y = _y(task)
    if y is not None and case == "empty_rows":
        y = y[:0]
    with pytest.raises(DataValidationError, match=msg):
        _fit(make(), task, Xb, y)


BAD_X_PREDICT = {
    "empty_rows": (X[:0], r"X: Found array with 0 sample"),
    "nan": (_with(X, 1, 3, np.nan), r"X contains NaN .*column\(s\) \[3\]"),
    "inf": (_with(X, 1, 3, np.inf), r"X contains infinite values in column 3"),
    "text_in_a_number_column": (np.array([["a"] * 4] * 3), r"X column 0 was numerical in fit"),
    "one_d": (X[0], r"X: Expected 2D array"),
    "sparse": (sp.csr_matrix(X), r"X: Sparse data was passed"),
}


@pytest.mark.parametrize(
    "name, case", [(n, c) for n in MODELS for c in BAD_X_PREDICT if not (c == "nan" and n in IMPUTES_NAN)]
)
def test_bad_X_at_predict_is_a_data_error_naming_X(fitted, name, case):
    Xb, msg = BAD_X_PREDICT[case]
    with pytest.raises(DataValidationError, match=msg):
        _out(fitted[name], MODELS[name][1], Xb)


@pytest.mark.parametrize("name", list(MODELS))
def test_before_fit_is_not_fitted_error(name):
    make, task = MODELS[name]
    with pytest.raises(NotFittedError, match=f"This {name} instance is not fitted yet"):
        _out(make(), task, X)


BAD_Y = {  # (target kind, y, message naming y)
    "nan_label": ("clf", np.r_[np.nan, Y_CLF[1:]], r"y contains 1 missing label"),
    "inf_label": ("clf", np.r_[np.inf, Y_CLF[1:]], r"y contains 1 infinite label"),
    "one_class": ("clf", np.zeros(20), r"y has 1 class\(es\)"),
    "continuous_for_a_classifier": ("clf", Y_REG, r"y: Unknown label type: continuous"),
    "mixed_label_types": ("clf", np.array([1, "a"] * 10, dtype=object), r"y: Unknown label type"),
    "two_columns": ("clf", np.c_[Y_CLF, Y_CLF], r"y must be 1-D"),
    "nan_target": ("reg", np.r_[np.nan, Y_REG[1:]], r"y contains 1 NaN"),
    "inf_target": ("reg", np.r_[Y_REG[:-1], np.inf], r"y contains 1 NaN or infinite"),
    "text_target": ("reg", np.array(["a", "b"] * 10), r"y must be numeric for a regressor"),
    "complex_target": ("reg", Y_REG + 1j, r"y: Complex data not supported"),
    "datetime_target": ("reg", pd.date_range("2020", periods=20).to_numpy(), r"y must be numeric"),
    "reg_two_columns": ("reg", np.c_[Y_REG, Y_REG], r"y must be 1-D"),
}


@pytest.mark.parametrize(
    "name, case", [(n, c) for n in SUPERVISED for c, (kind, _, _) in BAD_Y.items() if MODELS[n][1] == kind]
)
def test_bad_y_is_a_data_error_naming_y_before_training(no_training, name, case):
    make, task = MODELS[name]
    _, y, msg = BAD_Y[case]
    with pytest.raises(DataValidationError, match=msg):
        make().fit(X, y)


@pytest.mark.parametrize("name", SUPERVISED)
def test_y_none_and_length_mismatch(no_training, name):
    make, _ = MODELS[name]
    with pytest.raises(DataValidationError, match="requires y to be passed"):
        make().fit(X, None)
    with pytest.raises(DataValidationError, match="X has 19 rows, y has 20"):
        make().fit(X[:19], _y(MODELS[name][1]))


@pytest.mark.parametrize("name", SUPERVISED)
def test_one_row_is_a_data_error(no_training, name):
    make, task = MODELS[name]
    msg = "1 class" if task == "clf" else "n_samples=1"
    with pytest.raises(DataValidationError, match=msg):
        make().fit(X[:1], _y(task)[:1])


@pytest.mark.parametrize("name", ["TJEPA", "TJEPAClassifier", "TJEPARegressor"])
def test_tjepa_needs_two_rows_and_two_columns(no_training, name):
    make, task = MODELS[name]
    with pytest.raises(DataValidationError, match="at least 2 features"):
        _fit(make(), task, X[:, :1])
    if task is None:
        with pytest.raises(DataValidationError, match="n_samples=1"):
            make().fit(X[:1])


@pytest.mark.parametrize("name", list(MODELS))
def test_renamed_columns_at_predict(name):
    make, task = MODELS[name]
    df = pd.DataFrame(X, columns=list("abcd"))
    est = _fit(make(), task, df)
    with pytest.raises(DataValidationError, match="X: The feature names should match"):
        _out(est, task, df.rename(columns={"a": "z"}))


# -- documented valid behaviours, values asserted ----------------------------------------------
def test_one_row_table_encoder_maps_every_number_to_zero():
    Z = TableEncoder().fit(X[:1]).transform(X[:3])  # one row: every column is constant
    np.testing.assert_allclose(Z, X[:3] - X[:1])  # scale 1, centred on the only row
    assert list(TableEncoder().fit(X[:1]).constant_features_) == [0, 1, 2, 3]


def test_one_column_hypertab_every_view_keeps_the_column():
    clf = hypertab_clf(max_epochs=30, lr=1e-2).fit(X[:, :1], (X[:, 0] > 0).astype(int))
    assert clf.masks_.shape == (3, 1) and clf.masks_.all()
    assert (clf.predict(X[:, :1]) == (X[:, 0] > 0)).mean() >= 0.8  # a threshold on one feature is learnt


def test_nan_impute_values():
    Xn = _with(X, 3, 2, np.nan)
    enc = TableEncoder(missing="impute").fit(Xn)
    Z = enc.transform(Xn)
    med = np.nanmedian(Xn[:, 2])
    assert enc.medians_[2] == pytest.approx(med)
    assert Z[3, 2] == pytest.approx((med - enc.mean_[2]) / enc.scale_[2], abs=1e-6)
    clf = hypertab_clf(missing="impute").fit(Xn, Y_CLF)
    assert set(clf.predict(Xn)) <= {0, 1}


@pytest.mark.parametrize("name", sorted(IMPUTES_NAN))
def test_mlp_baseline_imputes_nan(fitted, name):
    Xn = _with(X, 1, 3, np.nan)
    est = fitted[name]
    filled = Xn.copy()
    filled[1, 3] = est.encoder_.medians_[3]
    np.testing.assert_allclose(est.predict(Xn), est.predict(filled))


def test_nat_in_a_date_column_is_missing_not_a_huge_negative_number():
    # before: NaT became -9.2e18 nanoseconds, silently, even with missing="error"
    df = pd.DataFrame({"t": pd.to_datetime(["2020-01-01", None, "2020-01-03", "2020-01-05"])})
    with pytest.raises(DataValidationError, match=r"NaN .*\['t'\]"):
        TableEncoder().fit(df)
    Z = TableEncoder(missing="impute").fit(df).transform(df)[:, 0]
    assert Z[1] == pytest.approx(Z[2])  # imputed with the median date, 2020-01-03
    assert np.all(np.abs(Z) < 2)


def test_dates_and_durations_are_numbers_in_time_order():
    df = pd.DataFrame(
        {"t": pd.date_range("2020", periods=4, tz="Europe/Paris"), "d": pd.to_timedelta([1, 2, 3, 4], unit="h")}
    )
    Z = TableEncoder().fit(df).transform(df)
    np.testing.assert_allclose(Z[:, 0], Z[:, 1], atol=1e-6)  # both evenly spaced: the same z-scores
    assert np.all(np.diff(Z[:, 0]) > 0)


def test_text_columns_and_unseen_categories():
    df = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "c": ["b", "a", "b", "c"]})
    enc = TableEncoder().fit(df)
    Z = enc.transform(pd.DataFrame({"x": [1.0], "c": ["zzz"]}))
    assert Z[0, 1] == 3  # levels a, b, c -> 0, 1, 2; unseen -> the reserved code 3
    np.testing.assert_array_equal(enc.transform(df)[:, 1], [1, 0, 1, 2])
    with pytest.raises(DataValidationError, match=r"X column 'c' has categories not seen in fit: \['zzz'\]"):
        TableEncoder(handle_unknown="error").fit(df).transform(pd.DataFrame({"x": [1.0], "c": ["zzz"]}))


def test_number_column_with_text_listed_as_categorical_is_a_category():
    Xo = _with(X[:, :2], 5, 1, "?")
    enc = TableEncoder(categorical_features=[1]).fit(Xo)
    assert list(enc.categorical_columns_) == [1] and enc.cardinalities_[0] == 21  # 20 levels + unknown


def test_duplicate_rows_encode_identically():
    Xd = np.vstack([X[:5], X[:5]])
    Z = TableEncoder().fit(Xd).transform(Xd)
    np.testing.assert_array_equal(Z[:5], Z[5:])


def test_one_row_at_predict(fitted):
    assert fitted["HyperTabClassifier"].predict(X[:1]).shape == (1,)
    np.testing.assert_allclose(fitted["TJEPA"].transform(X[:1]), fitted["TJEPA"].transform(X[:3])[:1], atol=1e-6)


def test_views_values_pass_through_and_empty_tables():
    Xn = _with(X, 0, 0, np.nan)
    views = FeatureSubsetViews(subsample=1.0, random_state=0).fit(Xn)
    V = views.sample(Xn, 2)  # subsample=1 keeps every feature: the input comes back unchanged
    np.testing.assert_array_equal(V[0], Xn)
    V0 = views.sample(Xn[:0], 2)
    assert V0.shape == (2, 0, 4)
    one = FeatureSubsetViews(random_state=0).fit(X[:, :1]).sample(X[:, :1], 2)
    np.testing.assert_array_equal(one, np.stack([X[:, :1]] * 2))
    with pytest.raises(DataValidationError, match="feature_groups must hold integer"):
        FeatureSubsetViews().fit(X, feature_groups=[0.0, 0.5, 1.0, 1.5])
    with pytest.raises(DataValidationError, match="feature_groups must label"):
        FeatureSubsetViews().fit(X, feature_groups=[0, -1, 1, 1])


def test_masking_reads_no_values_and_names_n():
    texts = pd.DataFrame({"a": list("abcde"), "b": pd.Categorical(list("xxyyz")), "c": [1, 2, 3, 4, 5]})
    (m,) = JEPAMasking(random_state=0).fit(texts).sample(texts)
    assert m.context.shape[0] == 5 and m.targets.shape[:2] == (5, 4)
    for ctx, tg in zip(m.context, m.targets):
        assert not set(ctx) & set(tg.ravel())
    aug = JEPAMasking(random_state=0).fit(X)
    assert aug.sample(X[:0])[0].context.shape[0] == 0
    assert len(aug.sample(X, 3)) == 3  # n counts draws (views), not rows
    with pytest.raises(InvalidParameterError, match="n must be >= 1"):  # zero views of every row: refused
        aug.sample(X, 0)
    with pytest.raises(InvalidParameterError, match="pass the rows to mask"):
        aug.sample(None, None)
    with pytest.raises(InvalidParameterError, match="n must"):
        aug.sample(X, -1)
    with pytest.raises(DataValidationError, match="at least 2 features"):
        JEPAMasking().fit(X[:, :1])
    with pytest.raises(NotFittedError):
        JEPAMasking().sample(X)
    with pytest.raises(NotFittedError):
        FeatureSubsetViews().sample(X)


def test_mlp_head_wrong_width_is_named():
    head = MLPHead(max_epochs=1, device="cpu", random_state=0).fit(X, Y_CLF)
    with pytest.raises(DataValidationError, match="X has 3 features, but MLPHead is expecting 4"):
        head.decision_function(X[:, :3])  # before: a torch matmul error


def test_mlp_head_rejects_uncoded_labels():
    with pytest.raises(DataValidationError, match="y must hold class codes"):
        MLPHead(max_epochs=1, device="cpu").fit(X, Y_CLF - 1)
    with pytest.raises(DataValidationError, match="y contains 1 NaN"):
        MLPHead(task="regression", max_epochs=1, device="cpu").fit(X, np.r_[np.nan, Y_REG[1:]])


def test_pmlb_name_must_be_a_plain_name(tmp_path):
    from structaug.datasets.pmlb import load_pmlb

    for bad in ("", "../secrets", "a/b", 3):
        with pytest.raises(InvalidParameterError, match="name must be a PMLB table name"):
            load_pmlb(bad, data_dir=tmp_path)


# -- the hang: JEPAMasking's unbounded redraw of (context, target) sizes ---------------------
def test_masking_wide_table_with_large_shares_does_not_hang():
    # before: d=1000 with shares in [0.5, 1] fitted one size pair in a million draws, ~10 s a batch
    import time

    m = JEPAMasking(
        min_context_share=0.5, max_context_share=1.0, min_target_share=0.5, max_target_share=1.0, random_state=0
    ).fit(np.zeros((2, 1000)))
    t0 = time.perf_counter()
    masks = list(m.sample(np.zeros((4, 1000)), 5))
    assert time.perf_counter() - t0 < 10.0  # a hang guard (~50 s before), not a speed target
    for mk in masks:
        assert mk.context.shape[1] + mk.targets.shape[2] <= 1000
        assert mk.context.shape[1] >= 500 and mk.targets.shape[2] >= 500


def test_masking_size_fallback_has_the_rejection_distribution(monkeypatch):
    from structaug.tabular.tjepa import _masking as tm

    m = JEPAMasking(min_context_share=0.3, max_context_share=1.0, min_target_share=0.3, max_target_share=1.0).fit(
        np.zeros((2, 8))
    )
    n = 20000

    def freq(tries, seed):
        monkeypatch.setattr(tm, "_MAX_SIZE_TRIES", tries)
        rng = np.random.default_rng(seed)
        pairs = [m._draw_sizes(rng) for _ in range(n)]
        return {p: pairs.count(p) / n for p in set(pairs)}

    rejection, direct = freq(10**9, 0), freq(0, 1)
    assert set(rejection) == set(direct) and all(c + t <= 8 for c, t in direct)
    assert max(abs(rejection[p] - direct[p]) for p in direct) < 0.01


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
@pytest.mark.parametrize("name", ["HyperTabClassifier", "TJEPA", "TJEPAClassifier"])
def test_cuda_without_cuda_fails_before_training(no_training, name):
    make, task = MODELS[name]
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        _fit(make(device="cuda"), task, X)
