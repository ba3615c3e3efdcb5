"""Shared pytest setup: slow tests are opt-in, progress bars off, caches in a temp folder."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("STRUCTAUG_PROGRESS", "0")


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", default=False, help="also run tests marked slow")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--runslow"):
        return
    skip = pytest.mark.skip(reason="slow: run with --runslow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True, scope="session")
def _cache_dir(tmp_path_factory):
    if "STRUCTAUG_CACHE" not in os.environ:
        os.environ["STRUCTAUG_CACHE"] = str(tmp_path_factory.mktemp("structaug-cache"))
    yield


def shared_or_skip(loader, *args, **kwargs):
    """Call a dataset loader; skip the test with the loader's message when the data is absent."""
    from structaug.exceptions import DatasetNotFoundError

    try:
        return loader(*args, **kwargs)
    except DatasetNotFoundError as exc:
        if "incomplete" in str(exc):  # present but broken: a failure to see, not a skip
            raise
        pytest.skip(f"shared dataset not available: {str(exc).splitlines()[0]}")


def script_module(folder, name: str, text: str):
    """Write ``text`` to ``folder/<name>.py`` and import it: ``(module, path)``.

    For fault tests that run the same script killed in a subprocess and in-process.
    """
    import importlib.util

    path = folder / f"{name}.py"
    path.write_text(text)
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod, path
