"""``kenning`` in a process of its own with the fake model, for tests that need real
processes (kills, interrupts, several commands at once, another user):

    python -m tests.cli_child [KENNING ARGUMENTS ...]

Runs ``core.cli.main.main`` with the arguments and exits with its code. An optional
``KENNING_TEST_SLOW_S`` makes each embedding batch take that long, so a signal can land
while work is going on.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence

try:  # as app/launch.py: Ctrl+C while the engine loads is exit 130, no traceback
    import numpy as np

    from core.cli.main import main
    from core.config import AppPaths, Settings
    from tests.fakes import FakeModel
except KeyboardInterrupt:
    sys.exit(130)


class _SlowModel(FakeModel):
    def __init__(self, pause: float) -> None:
        super().__init__()
        self.pause = pause

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        time.sleep(self.pause)
        return super().embed_documents(texts)


def fake_loader(settings: Settings, paths: AppPaths) -> FakeModel:
    return _SlowModel(float(os.environ.get("KENNING_TEST_SLOW_S", "0")))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], model_loader=fake_loader))
