"""T-JEPA: masking augmenter, self-supervised encoder, downstream heads, bad input."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import make_classification, make_regression
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from structaug.exceptions import DataValidationError, NotFittedError
from structaug.tabular.tjepa import (
    TJEPA,
    JEPAMasking,
    JEPAMasks,
    RepresentationCollapseWarning,
    TJEPAClassifier,
    TJEPARegressor,
)
from structaug.tabular.tjepa._network import TJEPANetwork
from structaug.testing import check_augmenter

# A tiny but complete T-JEPA: every component, seconds on a CPU.
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
    max_epochs=3,
    lr=1e-3,
    warmup_epochs=1,
    device="cpu",
)
HEAD = dict(hidden_sizes=(32,), max_epochs=60, patience=10, device="cpu")


@pytest.fixture(scope="module")
def toy():
    X, y = make_classification(
        n_samples=240, n_features=8, n_informative=5, n_redundant=1, class_sep=1.5, random_state=0
    )
    return X, y


@pytest.fixture(scope="module")
def fitted_encoder(toy):
    X, _ = toy
    return TJEPA(random_state=0, **TINY).fit(X[:200])


# -- JEPAMasking -------------------------------------------------------------------------
def test_masking_passes_check_augmenter(toy):
    X, _ = toy
    check_augmenter(JEPAMasking(random_state=0), X[:20], expected_type=tuple)
    check_augmenter(JEPAMasking(random_state=0), torch.as_tensor(X[:20]), expected_type=tuple)


def test_masking_sample_counts_draws_of_every_row(toy):
    # sample_unit "views": sample(X, n) is n mask draws, each over every row of X; n=None is one draw
    X, _ = toy
    aug = JEPAMasking(random_state=0).fit(X)
    assert JEPAMasking.sample_unit == "views" and JEPAMasking.default_n == 1
    (one,) = aug.sample(X[:7])
    assert isinstance(one, JEPAMasks) and one.n_rows == 7
    draws = aug.sample(X[:7], n=3)
    assert len(draws) == 3 == aug._count_sampled(draws, X[:7])
    assert all(isinstance(m, JEPAMasks) and m.n_rows == 7 for m in draws)
    assert len({(m.context.shape[1], m.targets.shape[2]) for m in aug.sample(X[:7], n=40)}) > 1  # sizes per draw
    t = aug.sample(torch.as_tensor(X[:5]), n=2)
    assert all(isinstance(m.context, torch.Tensor) and m.context.dtype == torch.int64 for m in t)
    with pytest.raises(ValueError, match="pass the rows"):
        aug.sample(None, n=2)


def test_masks_follow_the_paper():
    X = np.zeros((50, 20))
    aug = JEPAMasking(random_state=0).fit(X)
    assert aug.context_size_range_ == (4, 8) and aug.target_size_range_ == (4, 8)  # shares 0.2-0.4 of 20
    sizes = set()
    for _ in range(30):
        (m,) = aug.sample(X)
        assert m.context.shape[0] == 50 and m.targets.shape[:2] == (50, 4)  # 4 target subsets per context
        k_c, k_t = m.context.shape[1], m.targets.shape[2]
        assert 4 <= k_c <= 8 and 4 <= k_t <= 8
        sizes.add((k_c, k_t))
        for i in range(50):
            ctx = set(m.context[i].tolist())
            assert len(ctx) == k_c  # no repeated feature
            for t in m.targets[i]:
                assert len(set(t.tolist())) == k_t
                assert not ctx & set(t.tolist())  # targets never overlap the context
    assert len(sizes) > 1  # sizes are re-drawn per batch


def test_masks_on_narrow_tables():
    aug = JEPAMasking(random_state=0).fit(np.zeros((3, 2)))
    (m,) = aug.sample(np.zeros((5, 2)))
    assert m.context.shape == (5, 1) and m.targets.shape == (5, 4, 1)
    assert (m.context[:, 0] != m.targets[:, 0, 0]).all()


def test_masking_bad_input():
    with pytest.raises(DataValidationError, match="at least 2 features"):
        JEPAMasking().fit(np.zeros((5, 1)))
    with pytest.raises(ValueError, match="min_context_share"):
        JEPAMasking(min_context_share=0.5, max_context_share=0.3).fit(np.zeros((5, 4)))
    with pytest.raises(ValueError, match="lie in"):
        JEPAMasking(max_target_share=1.5).fit(np.zeros((5, 4)))
    aug = JEPAMasking(random_state=0).fit(np.zeros((5, 4)))
    with pytest.raises(DataValidationError, match="is expecting 4 features"):
        aug.sample(np.zeros((5, 3)))


# -- the encoder -------------------------------------------------------------------------
def test_encoder_shapes_history_and_no_collapse(fitted_encoder, toy):
    X, _ = toy
    enc = fitted_encoder
    R = enc.transform(X[200:])
    assert R.shape == (40, (1 + 8) * 8) == (40, enc.n_features_out_) and R.dtype == np.float32
    assert np.isfinite(R).all()
    # collapse guard: variance is logged every epoch and the embeddings are not constant
    assert len(enc.history_) == 3 and all("rep_var" in h and "loss" in h for h in enc.history_)
    assert all(h["rep_var"] > 1e-4 for h in enc.history_)
    assert R.std(axis=0).max() > 1e-2
    assert np.linalg.matrix_rank(R - R.mean(0), tol=1e-3) > 1
    # the schedules ran: EMA momentum rises from 0.996 towards 1
    assert 0.996 <= enc.history_[0]["momentum"] < enc.history_[-1]["momentum"] <= 1.0


def test_encoder_is_deterministic_and_leaves_global_rng(toy):
    X, _ = toy
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a = TJEPA(random_state=3, **{**TINY, "max_epochs": 1}).fit(X[:64]).transform(X[:10])
    assert torch.equal(torch.rand(1), before)  # fit left the caller's torch stream where it was
    b = TJEPA(random_state=3, **{**TINY, "max_epochs": 1}).fit(X[:64]).transform(X[:10])
    np.testing.assert_array_equal(a, b)
    rep = TJEPA(representation="reg", random_state=3, **{**TINY, "max_epochs": 1}).fit(X[:64]).transform(X[:10])
    assert rep.shape == (10, 8)


def test_ema_target_follows_context_without_gradients():
    net = TJEPANetwork(
        numerical_columns=[0, 2],
        categorical_columns=[1],
        cardinalities=[4],
        d_model=8,
        n_layers=1,
        n_heads=2,
        d_feedforward=16,
        dropout=0.0,
        n_reg_tokens=1,
        type_embedding=True,
        d_predictor=8,
        predictor_layers=1,
        predictor_heads=2,
        predictor_feedforward=16,
        predictor_dropout=0.0,
    )
    assert all(not p.requires_grad for p in net.target_encoder.parameters())
    x = torch.tensor([[0.5, 1.0, -1.0], [1.0, 3.0, 0.0]])
    loss = net.jepa_loss(x, torch.tensor([[0], [2]]), torch.tensor([[[2]] * 4, [[0]] * 4]))
    loss.backward()
    assert all(p.grad is None for p in net.target_encoder.parameters())
    c = next(net.context_encoder.parameters())
    t = next(net.target_encoder.parameters())
    with torch.no_grad():
        c.add_(1.0)
    old = t.detach().clone()
    net.ema_update(0.9)
    torch.testing.assert_close(t, 0.9 * old + 0.1 * c.detach())


def test_constant_table_warns_collapse():
    X = np.ones((40, 3))  # constant columns are kept (standardised to 0): every row is the same
    with pytest.warns(RepresentationCollapseWarning):
        enc = TJEPA(random_state=0, **{**TINY, "max_epochs": 1}).fit(X)
    assert np.allclose(enc.transform(X[:5]).std(0), 0, atol=1e-5)


def test_categorical_columns_and_unseen_categories():
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"a": rng.normal(size=60), "colour": rng.choice(["r", "g", "b"], 60), "b": rng.normal(size=60)})
    enc = TJEPA(random_state=0, **{**TINY, "max_epochs": 1}).fit(df)
    new = df.head(3).copy()
    new["colour"] = ["purple", "r", "g"]  # unseen level → the reserved "unknown" embedding
    assert np.isfinite(enc.transform(new)).all()
    strict = TJEPA(random_state=0, handle_unknown="error", **{**TINY, "max_epochs": 1}).fit(df)
    with pytest.raises(DataValidationError, match="not seen in fit"):
        strict.transform(new)


def test_encoder_bad_input(toy):
    X, _ = toy
    with pytest.raises(NotFittedError):
        TJEPA().transform(X)
    bad = X[:30].copy()
    bad[0, 0] = np.nan
    with pytest.raises(DataValidationError, match="NaN"):
        TJEPA(**TINY).fit(bad)
    assert np.isfinite(
        TJEPA(missing="impute", random_state=0, **{**TINY, "max_epochs": 1}).fit(bad).transform(bad)
    ).all()
    bad[0, 0] = np.inf
    with pytest.raises(DataValidationError, match="infinite"):
        TJEPA(**TINY).fit(bad)
    with pytest.raises(DataValidationError, match="at least 2 features"):
        TJEPA(**TINY).fit(X[:30, :1])
    with pytest.raises(DataValidationError, match="at least 2 rows"):
        TJEPA(**TINY).fit(X[:1])
    with pytest.raises(ValueError, match="representation"):
        TJEPA(representation="mean").fit(X)


# -- downstream heads ----------------------------------------------------------------------
def test_classifier_beats_chance_with_string_labels(toy):
    X, y = toy
    labels = np.where(y == 1, "yes", "no")
    torch.manual_seed(3)
    expected = torch.rand(2)
    torch.manual_seed(3)
    clf = TJEPAClassifier(encoder=TJEPA(**TINY), random_state=0, **HEAD).fit(X[:200], labels[:200])
    assert torch.equal(torch.rand(2), expected)  # encoder and MLP head leave the caller's torch stream alone
    assert list(clf.classes_) == ["no", "yes"]
    proba = clf.predict_proba(X[200:])
    assert proba.shape == (40, 2) and np.allclose(proba.sum(1), 1)
    assert set(clf.predict(X[200:])) <= {"no", "yes"}
    assert clf.score(X[200:], labels[200:]) >= 0.75  # chance is 0.5
    # predictions follow the fitted head, not a parameter changed after fit
    before = clf.predict_proba(X[200:])
    clf.set_params(head="xgboost")
    np.testing.assert_array_equal(clf.predict_proba(X[200:]), before)
    # a wrong column count is reported by this estimator, not by its inner TableEncoder
    with pytest.raises(DataValidationError, match="X has 3 features, but TJEPAClassifier is expecting 8"):
        clf.predict(X[:5, :3])


def test_feature_names_follow_the_last_fit(toy, fitted_encoder):
    X, _ = toy
    df = pd.DataFrame(X[:64], columns=[f"c{j}" for j in range(8)])
    enc = TJEPA(random_state=0, **{**TINY, "max_epochs": 1}).fit(df)
    assert list(enc.feature_names_in_) == list(df.columns)
    enc.fit(X[:64])  # refit on an array: the old names must go
    assert not hasattr(enc, "feature_names_in_")
    with pytest.raises(DataValidationError, match="X has 7 features, but TJEPA is expecting 8"):
        fitted_encoder.transform(X[:3, :7])


def test_xgboost_head_and_regressor(toy):
    X, y = toy
    clf = TJEPAClassifier(
        encoder=TJEPA(**TINY), pretrain_epochs=1, head="xgboost", xgb_params={"n_estimators": 30}, random_state=0
    ).fit(X[:200], y[:200])
    assert clf.encoder_.n_epochs_ == 1  # pretrain_epochs overrides the encoder's max_epochs
    assert clf.predict_proba(X[200:]).shape == (40, 2)
    assert clf.score(X[200:], y[200:]) > 0.6
    Xr, yr = make_regression(n_samples=200, n_features=5, noise=5.0, random_state=0)
    reg = TJEPARegressor(encoder=TJEPA(**TINY), random_state=0, **HEAD).fit(Xr[:160], yr[:160])
    assert reg.predict(Xr[160:]).shape == (40,)
    assert reg.score(Xr[160:], yr[160:]) > 0.3  # R² well above the mean predictor's 0


def test_pretrained_encoder_is_shared_and_gives_the_same_model_as_a_fresh_pretraining(toy):
    X, y = toy
    xgb = {"n_estimators": 20}
    fresh = TJEPAClassifier(encoder=TJEPA(random_state=5, **TINY), head="xgboost", xgb_params=xgb, random_state=0).fit(
        X[:200], y[:200]
    )
    enc = TJEPA(random_state=5, **TINY).fit(X[:200])
    epochs_before = len(enc.history_)
    shared = TJEPAClassifier(encoder=enc, pretrained=True, head="xgboost", xgb_params=xgb, random_state=0).fit(
        X[:200], y[:200]
    )
    assert shared.encoder_ is enc and len(enc.history_) == epochs_before  # used as is, not trained again
    # same seeds, same rows: reusing the pre-training is exactly a fresh one (what the suite relies on)
    np.testing.assert_allclose(shared.predict_proba(X[200:]), fresh.predict_proba(X[200:]), rtol=1e-5, atol=1e-6)
    mlp = TJEPAClassifier(encoder=enc, pretrained=True, random_state=0, **HEAD).fit(X[:200], y[:200])
    assert mlp.encoder_ is enc and mlp.score(X[200:], y[200:]) > 0.6
    with pytest.raises(NotFittedError):
        TJEPAClassifier(encoder=TJEPA(**TINY), pretrained=True).fit(X[:50], y[:50])
    with pytest.raises(ValueError, match="fitted TJEPA"):
        TJEPARegressor(encoder=None, pretrained=True).fit(X[:50], y[:50].astype(float))


def test_sklearn_integration(toy):
    X, y = toy
    clf = TJEPAClassifier(encoder=TJEPA(**TINY), random_state=0)
    assert clone(clf).get_params()["encoder__hidden_size"] == 8  # nested params for GridSearchCV
    pipe = make_pipeline(TJEPA(random_state=0, **{**TINY, "max_epochs": 1}), LogisticRegression(max_iter=500))
    assert pipe.fit(X[:200], y[:200]).score(X[200:], y[200:]) > 0.6


def test_head_bad_input(toy):
    X, y = toy
    with pytest.raises(DataValidationError, match="inconsistent numbers of samples"):
        TJEPAClassifier(encoder=TJEPA(**TINY)).fit(X[:50], y[:40])
    with pytest.raises(DataValidationError, match="class"):
        TJEPAClassifier(encoder=TJEPA(**TINY)).fit(X[:50], np.zeros(50))
    with pytest.raises(ValueError, match="head"):
        TJEPAClassifier(head="svm").fit(X[:50], y[:50])
    with pytest.raises(DataValidationError, match="NaN or infinite"):
        TJEPARegressor(encoder=TJEPA(**TINY)).fit(X[:50], np.r_[np.nan, np.ones(49)])
    with pytest.raises(NotFittedError):
        TJEPAClassifier().predict(X)
    with pytest.raises(ValueError, match="requires y"):
        TJEPAClassifier().fit(X, None)


def test_more_features_than_rows_is_supported():
    # documented behaviour: T-JEPA tokenises features, so d > n is just a longer token sequence
    X = np.random.default_rng(0).normal(size=(12, 30))
    R = TJEPA(random_state=0, **{**TINY, "max_epochs": 1}).fit(X).transform(X)
    assert R.shape == (12, 31 * 8) and np.isfinite(R).all()


@pytest.mark.slow
@pytest.mark.parametrize(
    "make",
    [
        lambda: TJEPA(random_state=0, **{**TINY, "max_epochs": 1}),
        lambda: TJEPAClassifier(
            encoder=TJEPA(**{**TINY, "max_epochs": 2}),
            random_state=0,
            **{**HEAD, "hidden_sizes": (16,), "max_epochs": 30, "patience": 5},
        ),
        lambda: TJEPARegressor(
            encoder=TJEPA(**{**TINY, "max_epochs": 2}),
            random_state=0,
            **{**HEAD, "hidden_sizes": (16,), "max_epochs": 30, "patience": 5},
        ),
    ],
    ids=["TJEPA", "TJEPAClassifier", "TJEPARegressor"],
)
def test_passes_sklearn_estimator_checks(make):
    from sklearn.utils.estimator_checks import check_estimator

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = check_estimator(make(), on_fail=None)
    failed = [r["check_name"] for r in results if r["status"] == "failed"]
    assert not failed, failed


# -- the masking augmenter as a parameter ------------------------------------------------
def test_masking_instance_is_a_nested_parameter_cloned_in_fit(toy):
    X, _ = toy
    masking = JEPAMasking(min_context_share=0.3, n_targets=2)
    enc = TJEPA(masking=masking, random_state=0, **{**TINY, "max_epochs": 1})
    assert enc.get_params(deep=True)["masking__n_targets"] == 2
    enc.set_params(masking__n_targets=3)
    assert masking.n_targets == 3  # set_params reaches the instance, as in scikit-learn
    enc.fit(X[:64])
    # the instance passed is never fitted nor re-seeded: fit works on a clone, masking_
    assert not hasattr(masking, "n_features_in_") and masking.random_state is None
    assert enc.masking_ is not masking and enc.masking_.n_targets == 3 and enc.masking_.n_features_in_ == 8
    assert enc.masking_.context_size_range_ == (2, 3)  # 0.3 and 0.4 of 8 features
    # GridSearchCV-style nested parameter on a clone
    other = clone(enc).set_params(masking__n_targets=1)
    assert other.masking.n_targets == 1 and enc.masking.n_targets == 3


def test_masking_parameter_changes_training_and_none_means_the_paper_defaults(toy):
    X, _ = toy
    kw = dict(random_state=0, **{**TINY, "max_epochs": 1})
    default = TJEPA(**kw).fit(X[:64])
    explicit = TJEPA(masking=JEPAMasking(), **kw).fit(X[:64])
    assert default.history_[0]["loss"] == explicit.history_[0]["loss"]  # None == JEPAMasking()
    assert default.masking_.get_params() == {
        **JEPAMasking().get_params(),
        "random_state": default.masking_.random_state,
    }
    other = TJEPA(masking=JEPAMasking(n_targets=1, max_target_share=0.2), **kw).fit(X[:64])
    assert other.history_[0]["loss"] != default.history_[0]["loss"]
    # the training masks come from TJEPA's random_state: masking.random_state does not change the fit
    seeded = TJEPA(masking=JEPAMasking(random_state=99), **kw).fit(X[:64])
    assert seeded.history_[0]["loss"] == default.history_[0]["loss"] and seeded.masking_.random_state == 99


def test_bad_masking_parameter_fails_before_training():
    with pytest.raises(ValueError, match="masking must be a JEPAMasking"):
        TJEPA(masking="random").fit(np.zeros((8, 4)))
    with pytest.raises(ValueError, match="min_context_share"):  # the augmenter's own check, before any work
        TJEPA(masking=JEPAMasking(min_context_share=0.5, max_context_share=0.3)).fit(np.zeros((8, 4)))
    with pytest.raises(ValueError, match="verbose"):
        TJEPA(verbose="yes").fit(np.zeros((8, 4)))


def test_silent_by_default_and_verbose_reaches_the_encoder(toy, capsys, monkeypatch):
    # progress bars would show here (the env var allows them): silence must come from verbose=False
    monkeypatch.setenv("STRUCTAUG_PROGRESS", "1")
    X, y = toy
    assert TJEPA().verbose is False and TJEPAClassifier().verbose is False
    make = lambda **kw: TJEPAClassifier(
        encoder=TJEPA(**{**TINY, "max_epochs": 1}), random_state=0, **{**HEAD, "max_epochs": 2}, **kw
    )
    make().fit(X[:64], y[:64])
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""
    make(verbose=True).fit(X[:64], y[:64])
    err = capsys.readouterr().err
    assert "T-JEPA" in err and "MLP head" in err  # the encoder's bar and the head's
