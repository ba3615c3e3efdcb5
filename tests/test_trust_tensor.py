"""Issue #20 for sparse tensors / DAIN: every bad input is a structaug error naming the
argument, raised before any training; every accepted edge case has asserted values.

Tiny tensors and 1-2 epochs keep this file at a few seconds.
"""

from __future__ import annotations

import importlib.util
import warnings

import numpy as np
import pandas as pd
import pytest

from structaug.exceptions import DataValidationError, InvalidParameterError, NotFittedError, StructaugError
from structaug.tensor import (
    InfluenceAugmenter,
    MeanCompletion,
    NeuralTensorCompletion,
    ObservedTensor,
    RandomCellAugmenter,
    TensorlyCompletion,
    TracInTracker,
    XGBoostCompletion,
    entity_importance,
    fit_augmented,
    load_tensor_dataset,
    make_tensor,
)
from structaug.tensor._augmenter import draw_new_cells
from structaug.train import Trainer

SHAPE = (6, 5, 4)


def est(**kw) -> NeuralTensorCompletion:
    params = dict(
        embedding_dim=6, hidden_sizes=(8,), batch_size=32, max_epochs=2, patience=None, device="cpu", random_state=0
    )
    params.update(kw)
    return NeuralTensorCompletion(**params)


#: xgboost is the optional `trees` extra: its fitted-model cases run only where it is installed
HAS_XGBOOST = importlib.util.find_spec("xgboost") is not None


def baselines():
    out = [MeanCompletion(), TensorlyCompletion(rank=2, n_iter_max=5, random_state=0)]
    return out + [XGBoostCompletion(n_estimators=5, random_state=0)] if HAS_XGBOOST else out


T = make_tensor(SHAPE, nnz=60, rank=2, random_state=0)
TR, VA, TE = T.split(random_state=0)
EMPTY = ObservedTensor(np.empty((0, 3), dtype=np.int64), np.empty(0), SHAPE)
ONE = ObservedTensor([[1, 2, 3]], [4.5], SHAPE)


def mutated(values=None, indices=None) -> ObservedTensor:
    """A container whose public arrays were changed after construction."""
    t = TR.subset(np.arange(TR.nnz))
    t.values, t.indices = t.values.copy(), t.indices.copy()
    if values is not None:
        t.values[0] = values
    if indices is not None:
        t.indices[0, 0] = indices
    return t


@pytest.fixture(scope="module")
def fitted():
    return est().fit(TR, validation=VA)


@pytest.fixture(scope="module")
def fitted_aug():
    return InfluenceAugmenter(estimator=est(), random_state=0).fit(TR, validation=VA)


@pytest.fixture(scope="module")
def models(fitted):
    """One fitted model of each kind, by name."""
    out = {"neural": fitted}
    for b in baselines():
        out[type(b).__name__] = b.fit(TR)
    return out


KINDS = ["neural", "MeanCompletion", "TensorlyCompletion", *(["XGBoostCompletion"] if HAS_XGBOOST else [])]


@pytest.fixture
def no_training(monkeypatch):
    """Fail the test if any Trainer starts: bad input must be refused before training."""

    def refuse(*a, **k):
        raise AssertionError("training started before the input was validated")

    monkeypatch.setattr(Trainer, "fit", refuse)


# -- reported cases ------------------------------------------------------------------------
def test_fit_on_empty_tensor_raises_before_training(no_training):
    """#20-1: an empty X trained to loss 0.0."""
    with pytest.raises(DataValidationError, match="X is empty"):
        est().fit(EMPTY, validation=VA)
    with pytest.raises(DataValidationError, match="X is empty"):
        est().fit(EMPTY)


def test_empty_validation_raises_before_training(no_training):
    """#20-2: an empty validation tensor gave NaN validation losses and best_epoch_=None.

    Decision: raise (naming ``validation``); ``validation=None`` is the way to ask for an
    internal hold-out."""
    with pytest.raises(DataValidationError, match="validation is empty"):
        est().fit(TR, validation=EMPTY)
    with pytest.raises(DataValidationError, match="validation is empty"):
        InfluenceAugmenter(estimator=est(), random_state=0).fit(TR, validation=EMPTY)
    with pytest.raises(DataValidationError, match="validation is empty"):
        XGBoostCompletion(n_estimators=5).fit(TR, validation=EMPTY)


def test_no_validation_holds_out_cells_and_sets_best_epoch():
    """The documented alternative to an empty validation set: validation=None."""
    m = est(validation_fraction=0.25).fit(T)
    assert m.n_train_ == 45 and m.best_epoch_ in (0, 1)
    assert all(np.isfinite(h["val_loss"]) for h in m.train_result_.history)
    # the augmenters hold out the share their estimator declares (60 cells: 15 held out)
    for aug in (
        InfluenceAugmenter(estimator=est(validation_fraction=0.25), random_state=0),
        RandomCellAugmenter(estimator=est(validation_fraction=0.25), random_state=0),
    ):
        assert aug.fit(T).n_train_ == 45 and "validation_fraction" not in aug.get_params(deep=False)
    assert InfluenceAugmenter(estimator=est(), random_state=0).fit(T).n_train_ == 48  # default 0.2


@pytest.mark.parametrize("model", [est(), *baselines()], ids=lambda m: type(m).__name__)
def test_score_on_empty_tensor_raises(model):
    """#20-3: score() on an empty tensor returned NaN."""
    model.fit(TR, validation=VA) if isinstance(model, NeuralTensorCompletion) else model.fit(TR)
    with pytest.raises(DataValidationError, match="X is empty"):
        model.score(EMPTY)


@pytest.mark.parametrize("method", ["cp", "tucker"])
def test_tensorly_keeps_the_callers_backend(method):
    """#20-4: TensorlyCompletion.fit switched tensorly's global backend to numpy."""
    import tensorly as tl

    before = tl.get_backend()
    try:
        tl.set_backend("numpy")
        ref = TensorlyCompletion(method=method, rank=2, n_iter_max=10, random_state=0).fit(TR).predict(TE)
        tl.set_backend("pytorch")
        model = TensorlyCompletion(method=method, rank=2, n_iter_max=10, random_state=0).fit(TR)
        assert tl.get_backend() == "pytorch"
        pred = model.predict(TE)
        assert tl.get_backend() == "pytorch"
        np.testing.assert_array_equal(pred, ref)
        assert isinstance(pred, np.ndarray) and pred.dtype == np.float64
    finally:
        tl.set_backend(before)


# -- bad-input suite: each case a structaug error naming the argument ------------------------
def _raise_cases():
    c = []

    def add(id_, fn, exc, match):
        c.append(pytest.param(fn, exc, match, id=id_))

    DVE, IPE = DataValidationError, InvalidParameterError
    # ObservedTensor
    OT = ObservedTensor
    add("ot-empty-no-shape", lambda: OT(np.empty((0, 3)), []), DVE, "shape is required")
    add("ot-nan", lambda: OT([[0, 1]], [np.nan]), DVE, "values contains 1 NaN")
    add("ot-inf", lambda: OT([[0, 1], [1, 0]], [1.0, np.inf]), DVE, "values contains 1 NaN or inf")
    add("ot-float-idx", lambda: OT([[0.5, 1]], [1.0]), DVE, "indices must hold integer")
    add("ot-bool-idx", lambda: OT(np.array([[True, False]]), [1.0]), DVE, "indices must hold integer")
    add("ot-str-idx", lambda: OT([["a", "b"]], [1.0]), DVE, "indices must hold integer")
    add("ot-nan-idx", lambda: OT([[np.nan, 1]], [1.0]), DVE, "indices contains NaN")
    add("ot-ragged-idx", lambda: OT([[0, 1], [1]], [1.0, 2.0]), DVE, "indices could not be read")
    add("ot-negative", lambda: OT([[0, -1]], [1.0]), DVE, r"indices \(mode 1\) has a negative index")
    add("ot-out-of-range", lambda: OT([[0, 5]], [1.0], (2, 3)), DVE, r"indices \(mode 1\) has index 5 out of range")
    add("ot-length-mismatch", lambda: OT([[0, 1], [1, 0]], [1.0, 2.0, 3.0]), DVE, "indices has 2 rows but values has 3")
    add("ot-1d-indices", lambda: OT([0, 1], [1.0, 2.0]), DVE, "indices must be a 2-D")
    add("ot-2d-values", lambda: OT([[0, 1]], [[1.0]]), DVE, "values must be 1-D")
    add("ot-order-1", lambda: OT([[0], [1]], [1.0, 2.0]), DVE, "order >= 2")
    add("ot-str-values", lambda: OT([[0, 1]], ["x"]), DVE, "values must be numeric")
    add("ot-bool-values", lambda: OT([[0, 1]], [True]), DVE, "values must be numeric")
    add(
        "ot-shape-too-small",
        lambda: OT([[0, 1], [3, 0]], [1.0, 2.0], (3, 2)),
        DVE,
        r"indices \(mode 0\) has index 3 out of range for size 3",
    )
    add("ot-shape-modes", lambda: OT([[0, 1]], [1.0], (2, 2, 2)), DVE, "shape .* has 3 modes")
    add("ot-shape-fraction", lambda: OT([[0, 1]], [1.0], (2.5, 3)), IPE, "shape must hold integer")
    add("ot-shape-str", lambda: OT([[0, 1]], [1.0], "23"), IPE, "shape must be a sequence")
    add("ot-shape-scalar", lambda: OT([[0, 1]], [1.0], 5), IPE, "shape must be a sequence")
    add("ot-shape-zero", lambda: OT(np.empty((0, 2)), [], (0, 3)), IPE, "shape: mode sizes must be >= 1")
    add("ot-duplicates", lambda: OT([[0, 1], [0, 1]], [1.0, 2.0]), DVE, "more than once.*duplicates='mean'")
    add("ot-duplicates-policy", lambda: OT([[0, 1]], [1.0], duplicates="max"), IPE, "duplicates must be one of")
    add("ot-split-size", lambda: T.split(test_size=0), IPE, "test_size")
    add("ot-split-val-size", lambda: T.split(val_size=1.0), IPE, "val_size")
    add("ot-split-too-small", lambda: ONE.split(), DVE, "1 observed cells are too few for a split")
    add("ot-subset-negative", lambda: T.subset([-1]), DVE, "rows has a negative index")
    add("ot-subset-beyond", lambda: T.subset([60]), DVE, "rows has index 60 out of range")
    add("ot-subset-mask", lambda: T.subset(np.ones(3, dtype=bool)), DVE, "rows is a boolean mask")
    add("ot-concat-type", lambda: T.concat(np.zeros((2, 3))), IPE, "ObservedTensor")
    add("ot-from-frame-type", lambda: OT.from_frame(np.zeros((2, 3))), IPE, "frame must be a pandas DataFrame")
    add(
        "ot-from-frame-missing",
        lambda: OT.from_frame(pd.DataFrame({"u": [0], "r": [1.0]}), ["u", "i"], "r"),
        DVE,
        r"columns \['i'\]",
    )
    add(
        "ot-from-frame-nan",
        lambda: OT.from_frame(pd.DataFrame({"u": [0, None], "i": [0, 1], "r": [1.0, 2.0]})),
        DVE,
        "index columns contain missing",
    )
    add("ot-from-dense-mask", lambda: OT.from_dense(np.ones((2, 2)), np.ones((2, 3), bool)), DVE, "mask shape")
    add("ot-from-dense-1d", lambda: OT.from_dense(np.ones(3)), DVE, "order >= 2")

    # NeuralTensorCompletion.fit: data
    add("ntc-X-type", lambda: est().fit(TR.indices), IPE, "X must be an ObservedTensor")
    add("ntc-X-one-cell", lambda: est().fit(ONE), DVE, r"1 observed cell\(s\) of X are too few")
    add(
        "ntc-X-nan-after-construction",
        lambda: est().fit(mutated(values=np.nan), validation=VA),
        DVE,
        "X.values contains 1 NaN",
    )
    add(
        "ntc-X-index-after-construction",
        lambda: est().fit(mutated(indices=99), validation=VA),
        DVE,
        r"X.indices \(mode 0\) has index 99",
    )
    add("ntc-val-type", lambda: est().fit(TR, validation=VA.indices), IPE, "validation must be an ObservedTensor")
    add("ntc-val-order", lambda: est().fit(TR, validation=OT([[0, 1]], [1.0])), DVE, "validation has order 2")
    add(
        "ntc-val-overlap", lambda: est().fit(TR, validation=TR), DVE, f"validation shares {TR.nnz} of its {TR.nnz} cell"
    )
    add("ntc-shape-small", lambda: est().fit(TR, validation=VA, shape=(2, 2, 2)), DVE, "shape=.*does not cover X")
    add(
        "ntc-shape-val",
        lambda: est().fit(TR, validation=OT([[6, 0, 0]], [1.0]), shape=SHAPE),
        DVE,
        "validation.indices .*does not cover validation",
    )
    add("ntc-shape-modes", lambda: est().fit(TR, validation=VA, shape=(6, 5)), DVE, "shape has 2 modes")
    add("ntc-shape-float", lambda: est().fit(TR, validation=VA, shape=(6, 5, 4.5)), IPE, "shape must hold integer")
    # NeuralTensorCompletion.fit: parameters
    for name, bad in [
        ("batch_size", 0),
        ("batch_size", -1),
        ("batch_size", 1.5),
        ("max_epochs", 0),
        ("max_epochs", -1),
        ("lr", 0),
        ("lr", -1e-3),
        ("lr", float("nan")),
        ("lr", float("inf")),
        ("patience", 0),
        ("embedding_dim", 0),
        ("embedding_dim", 2),
        ("hidden_sizes", (0,)),
        ("hidden_sizes", 64),
        ("validation_fraction", 0.0),
        ("validation_fraction", 1.0),
        ("device", "gpu"),
        ("verbose", "no"),
    ]:
        add(f"ntc-{name}={bad}", lambda name=name, bad=bad: est(**{name: bad}).fit(TR, validation=VA), IPE, name)
    # NeuralTensorCompletion: before fit / predict / score
    add("ntc-predict-before-fit", lambda: est().predict(TE), NotFittedError, "not fitted")
    add("ntc-score-before-fit", lambda: est().score(TE), NotFittedError, "not fitted")
    add("ntc-best-epoch-before-fit", lambda: est().best_epoch_, NotFittedError, "not fitted")

    # InfluenceAugmenter / RandomCellAugmenter.fit
    IA = InfluenceAugmenter
    add("aug-data-type", lambda: IA(estimator=est()).fit(TR.indices), IPE, "data must be an ObservedTensor")
    add("aug-data-empty", lambda: IA(estimator=est()).fit(EMPTY), DVE, "data is empty")
    add("aug-data-one", lambda: IA(estimator=est()).fit(ONE), DVE, r"1 observed cell\(s\) of data are too few")
    add(
        "aug-data-nan",
        lambda: IA(estimator=est()).fit(mutated(values=np.inf), validation=VA),
        DVE,
        "data.values contains 1 NaN or inf",
    )
    add(
        "aug-val-overlap",
        lambda: IA(estimator=est()).fit(TR, validation=TR.subset([0, 1])),
        DVE,
        "validation shares 2 of its 2 cell",
    )
    add(
        "aug-shape-small",
        lambda: IA(estimator=est()).fit(TR, validation=VA, shape=(2, 2, 2)),
        DVE,
        "does not cover data",
    )
    for name, bad in [("augment_ratio", 0), ("augment_ratio", -1), ("augment_ratio", None)]:
        add(f"aug-{name}={bad}", lambda name=name, bad=bad: IA(estimator=est(), **{name: bad}).fit(TR), IPE, name)
    # the hold-out share is the estimator's parameter (not declared a second time on the augmenter)
    add(
        "aug-estimator-validation_fraction",
        lambda: IA(estimator=est(validation_fraction=1.0)).fit(TR),
        IPE,
        "validation_fraction",
    )
    add("aug-estimator-type", lambda: IA(estimator=MeanCompletion()).fit(TR), IPE, "estimator must be")
    add("aug-estimator-params", lambda: IA(estimator=est(batch_size=0)).fit(TR, validation=VA), IPE, "batch_size")
    add("aug-sample-before-fit", lambda: IA().sample(n=3), NotFittedError, "not fitted")
    RA = RandomCellAugmenter
    add(
        "rand-prefit-type",
        lambda: RA(estimator=est()).fit(TR, validation=VA, prefit=MeanCompletion()),
        IPE,
        "prefit must be",
    )
    add(
        "rand-prefit-unfitted",
        lambda: RA(estimator=est()).fit(TR, validation=VA, prefit=est()),
        NotFittedError,
        "not fitted",
    )
    add(
        "fit-augmented-overlap",
        lambda: fit_augmented(est(), TR, TR.subset([0]), VA),
        DVE,
        "augmented shares 1 of its 1 cell",
    )
    add("fit-augmented-type", lambda: fit_augmented(MeanCompletion(), TR, EMPTY, VA), IPE, "estimator must be")
    add("tracin-empty-val", lambda: TracInTracker(TR, EMPTY), DVE, "validation is empty")
    add("importance-length", lambda: entity_importance(TR, np.ones(3)), DVE, "cell_importance has shape")
    add(
        "draw-negative-n",
        lambda: draw_new_cells([np.ones(2) / 2] * 2, -1, np.empty(0, np.int64), (2, 2), np.random.default_rng(0)),
        IPE,
        "n must be >= 0",
    )

    # baselines
    for B in (MeanCompletion, TensorlyCompletion, XGBoostCompletion):
        n = B.__name__
        add(f"{n}-X-type", lambda B=B: B().fit(TR.indices), IPE, "X must be an ObservedTensor")
        add(f"{n}-X-empty", lambda B=B: B().fit(EMPTY), DVE, "X is empty")
        add(f"{n}-X-nan", lambda B=B: B().fit(mutated(values=np.nan)), DVE, "X.values contains")
        add(f"{n}-val-empty", lambda B=B: B().fit(TR, validation=EMPTY), DVE, "validation is empty")
        add(f"{n}-val-overlap", lambda B=B: B().fit(TR, validation=TR), DVE, "validation shares")
        add(f"{n}-shape-small", lambda B=B: B().fit(TR, shape=(2, 2, 2)), DVE, "shape=.*does not cover X")
        add(f"{n}-shape-modes", lambda B=B: B().fit(TR, shape=(6, 5)), DVE, "shape has 2 modes")
        add(f"{n}-predict-before-fit", lambda B=B: B().predict(TE), NotFittedError, "not fitted")
        add(f"{n}-score-before-fit", lambda B=B: B().score(TE), NotFittedError, "not fitted")
    for B, name, bad in [
        (MeanCompletion, "kind", "median"),
        (MeanCompletion, "reg", -1.0),
        (MeanCompletion, "n_sweeps", 0),
        (TensorlyCompletion, "method", "svd"),
        (TensorlyCompletion, "rank", 0),
        (TensorlyCompletion, "rank", -1),
        (TensorlyCompletion, "n_iter_max", 0),
        (TensorlyCompletion, "max_dense_cells", 0),
        (XGBoostCompletion, "n_estimators", 0),
        (XGBoostCompletion, "max_depth", 0),
        (XGBoostCompletion, "learning_rate", 0),
        (XGBoostCompletion, "smoothing", -1),
        (XGBoostCompletion, "n_folds", 1),
    ]:
        add(f"{B.__name__}-{name}={bad}", lambda B=B, name=name, bad=bad: B(**{name: bad}).fit(TR), IPE, name)
    add("tensorly-too-dense", lambda: TensorlyCompletion(max_dense_cells=100).fit(TR), DVE, "max_dense_cells")

    # loaders
    add("load-unknown", lambda: load_tensor_dataset("nope"), IPE, "name must be one of")
    add("make-tensor-nnz", lambda: make_tensor((2, 2), nnz=5), IPE, "nnz=5 exceeds")
    add("make-tensor-nnz-0", lambda: make_tensor((2, 2), nnz=0), IPE, "nnz must be >= 1")
    return c


@pytest.mark.parametrize("fn, exc, match", _raise_cases())
def test_bad_input_raises_named_structaug_error(no_training, fn, exc, match):
    with pytest.raises(exc, match=match) as info:
        fn()
    assert isinstance(info.value, (StructaugError, NotFittedError))


def _predict_cases():
    c = []
    for name, bad, match in [
        ("unseen", np.array([[0, 0, 4]]), r"X \(mode 2\) has index 4 out of range for size 4: an entity unseen"),
        ("negative", np.array([[0, -1, 0]]), r"X \(mode 1\) has a negative index"),
        ("fraction", np.array([[0.5, 0, 0]]), "X must hold integer indices"),
        ("bool", np.array([[True, False, True]]), "X must hold integer indices"),
        ("nan", np.array([[np.nan, 0, 0]]), "X contains NaN"),
        ("columns", np.array([[0, 0]]), r"X must have shape \(n, 3\)"),
        ("1d", np.array([0, 0, 0]), "X must be a 2-D"),
        ("ragged", [[0, 0, 0], [1]], "X could not be read"),
        ("order", ObservedTensor([[0, 1]], [1.0]), r"X must have shape \(n, 3\)"),
    ]:
        c.append(pytest.param(bad, match, id=name))
    return c


@pytest.mark.parametrize("bad, match", _predict_cases())
@pytest.mark.parametrize("kind", KINDS)
def test_predict_bad_cells(models, kind, bad, match):
    with pytest.raises(DataValidationError, match=match):
        models[kind].predict(bad)


@pytest.mark.parametrize("kind", KINDS)
def test_score_needs_an_observed_tensor(models, kind):
    with pytest.raises(InvalidParameterError, match="X must be an ObservedTensor"):
        models[kind].score(TE.indices)


def test_prefit_must_cover_the_data():
    small = est().fit(TR.subset(TR.indices[:, 0] < 3), validation=VA.subset(VA.indices[:, 0] < 3), shape=(3, 5, 4))
    with pytest.raises(DataValidationError, match=r"data.indices \(vs prefit.shape_\) \(mode 0\) has index 5"):
        RandomCellAugmenter(estimator=est()).fit(TR, validation=VA, prefit=small)


def test_sample_bad_n(fitted_aug):
    for bad in (-1, 1.5, True, "3"):
        with pytest.raises(InvalidParameterError, match="n must"):
            fitted_aug.sample(n=bad)
    free = int(np.prod(SHAPE)) - TR.nnz - VA.nnz
    with pytest.raises(DataValidationError, match=f"n={free + 1} .* only {free} "):
        fitted_aug.sample(n=free + 1)
    with pytest.raises(DataValidationError, match="order"):
        fitted_aug.sample(ObservedTensor([[0, 1]], [1.0]), n=3)
    with pytest.raises(InvalidParameterError, match="data must be an ObservedTensor"):
        fitted_aug.sample(TE.indices, n=3)


def test_sample_default_n_too_large_names_augment_ratio():
    aug = RandomCellAugmenter(estimator=est(), augment_ratio=5.0, random_state=0).fit(TR, validation=VA)
    with pytest.raises(DataValidationError, match="augment_ratio=5.0"):
        aug.sample()


def test_diverged_training_raises_instead_of_nan_predictions():
    huge = lambda t: ObservedTensor(t.indices, t.values * 1e20, t.shape)
    model = est()
    with pytest.raises(DataValidationError, match="diverged"):
        model.fit(huge(TR), validation=huge(VA))
    assert not hasattr(model, "model_")  # no half-fitted model to predict NaN with


def test_tracin_best_epoch_outside_tracked_epochs():
    tracker = TracInTracker(TR, VA)
    tracker.per_epoch = [np.ones(TR.nnz), np.ones(TR.nnz)]
    assert tracker.cell_importance(1).tolist() == [2.0] * TR.nnz
    with pytest.raises(DataValidationError, match="best_epoch=5"):
        tracker.cell_importance(5)


def test_bad_text_file(tmp_path):
    empty = tmp_path / "empty.tensor"
    empty.write_text("")
    with pytest.raises(DataValidationError, match="empty.tensor: the tensor file is empty"):
        ObservedTensor.from_text(empty)
    text = tmp_path / "text.tensor"
    text.write_text("0\t1\tx\n1\t0\t2.0\n")
    with pytest.raises(DataValidationError, match="not numeric"):
        ObservedTensor.from_text(text)
    short = tmp_path / "short.tensor"
    short.write_text("0\t1\t2\t3.0\n1\t0\t2.0\n")
    with pytest.raises(DataValidationError, match="missing fields"):
        ObservedTensor.from_text(short)


# -- documented valid behaviour, values asserted ----------------------------------------------
def test_empty_container_is_valid_with_a_shape():
    assert EMPTY.nnz == 0 and EMPTY.shape == SHAPE and EMPTY.density == 0.0
    arr, mask = EMPTY.to_dense()
    assert arr.shape == SHAPE and np.isnan(arr).all() and not mask.any()


def test_duplicates_mean_averages():
    t = ObservedTensor([[0, 1], [1, 0], [0, 1], [0, 1]], [1.0, 5.0, 2.0, 6.0], duplicates="mean")
    assert t.indices.tolist() == [[0, 1], [1, 0]] and t.values.tolist() == [3.0, 5.0]


def test_one_cell_fits_with_explicit_validation():
    val = ObservedTensor([[0, 0, 0]], [3.0], SHAPE)
    m = est().fit(ONE, validation=val)
    assert m.n_train_ == 1 and m.best_epoch_ in (0, 1) and np.isfinite(m.predict(ONE)).all()
    for b in (MeanCompletion(kind="global"), MeanCompletion(kind="entity"), *baselines()):
        # one cell (or any constant values): every baseline predicts that value everywhere
        np.testing.assert_allclose(b.fit(ONE).predict([[1, 2, 3], [0, 0, 0]]), [4.5, 4.5], atol=1e-6)


def test_integral_float_indices_predict_like_ints(fitted):
    np.testing.assert_array_equal(fitted.predict(TE.indices.astype(float)), fitted.predict(TE.indices))


@pytest.mark.parametrize("kind", KINDS)
def test_predict_no_cells_gives_empty_float_array(models, kind):
    out = models[kind].predict(np.empty((0, 3), dtype=np.int64))
    assert out.shape == (0,) and out.dtype == np.float64


def test_shape_gives_unseen_entities_rows(fitted):
    """Entities beyond the training cells are predictable only when ``shape`` covers them."""
    m = est().fit(TR, validation=VA, shape=(8, 5, 4))
    assert m.shape_ == (8, 5, 4) and np.isfinite(m.predict([[7, 0, 0]])).all()
    b = MeanCompletion().fit(TR, shape=(8, 5, 4))
    assert b.predict([[7, 0, 0]])[0] == pytest.approx(b.mean_ + b.biases_[1][0] + b.biases_[2][0])
    with pytest.raises(DataValidationError, match="unseen"):
        fitted.predict([[7, 0, 0]])


def test_sample_zero_and_all_free_cells(fitted_aug):
    none = fitted_aug.sample(n=0)
    assert isinstance(none, ObservedTensor) and none.nnz == 0 and none.shape == fitted_aug.shape_
    free = int(np.prod(SHAPE)) - TR.nnz - VA.nnz
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "fewer cells" warning: exactly n cells come back
        every = fitted_aug.sample(n=free)
    observed = set(TR.keys().tolist()) | set(VA.keys().tolist())
    assert every.nnz == free and set(every.keys().tolist()) == set(range(int(np.prod(SHAPE)))) - observed
    # cells of ``data`` outside the fitted shape cannot be drawn anyway: ignored, not an error
    outside = ObservedTensor([[9, 9, 9]], [1.0])
    assert fitted_aug.sample(outside, n=5).nnz == 5


def test_fit_augmented_with_no_extra_cells_is_plain_training():
    a = fit_augmented(est(), TR, EMPTY, VA)
    b = est().fit(TR, validation=VA, shape=SHAPE)
    np.testing.assert_array_equal(a.predict(TE), b.predict(TE))


def test_hidden_sizes_empty_is_a_linear_model_on_embeddings():
    m = est(hidden_sizes=()).fit(TR, validation=VA)
    assert isinstance(m.model_.body, __import__("torch").nn.Identity) and np.isfinite(m.predict(TE)).all()


def test_xgboost_missing_names_the_extra_after_the_input_checks(monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "xgboost", None)  # as if the `trees` extra were not installed
    with pytest.raises(DataValidationError, match="X is empty"):  # bad input is still named first
        XGBoostCompletion().fit(EMPTY)
    with pytest.raises(ImportError, match=r"xgboost, which is not installed: pip install 'structaug\[trees\]'"):
        XGBoostCompletion(n_estimators=5).fit(TR)
