"""Optional dependencies fail with the extra to install."""

import sys

import pytest

from structaug._optional import import_optional


def test_present_module_is_returned():
    assert import_optional("json") is sys.modules["json"]


def test_missing_module_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "xgboost", None)  # makes `import xgboost` fail
    with pytest.raises(ImportError, match=r"structaug\[trees\]"):
        import_optional("xgboost")
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)  # already imported by an earlier test
    with pytest.raises(ImportError, match=r"structaug\[plot\]"):
        import_optional("matplotlib.pyplot")
