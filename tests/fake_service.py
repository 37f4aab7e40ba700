"""``kenning`` with the fake model, for tests of the background service as a real process:

    python -m tests.fake_service [--home H] service run

``PROGRAM`` is the command tests pass as ``program`` to ``core.cli.main.main`` so that a
command which starts the service starts this one. Embedding is slowed down a little so a
test can catch the service in the middle of its work.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence

import numpy as np

from core.cli.main import main
from tests.fakes import FakeModel

PROGRAM = [sys.executable, "-m", "tests.fake_service"]
EMBED_PAUSE_S = 0.02


class SlowFakeModel(FakeModel):
    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        time.sleep(EMBED_PAUSE_S * len(texts))
        return super().embed_documents(texts)


def _is_the_service(argv: Sequence[str]) -> bool:
    return argv[-2:] == ["service", "run"]


if __name__ == "__main__":
    # Only the service gets the fake model; commands then go to it, as users' do.
    loader = (lambda settings, paths: SlowFakeModel()) if _is_the_service(sys.argv) else None
    sys.exit(main(model_loader=loader, program=PROGRAM))
