"""``python -m structaug ...``: the same as the ``structaug`` command (:func:`structaug.cli.main`)."""

from __future__ import annotations

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
