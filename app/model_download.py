"""The catalogue in the settings dialog: pick a model, download it with progress, speed and
Cancel. The download runs as a background task; the GUI thread only shows its reports."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path

from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from app.tasks import Operation, TaskContext, TaskRunner
from core.models.catalogue import CatalogueEntry, load_catalogue
from core.models.download import DownloadProgress, download


def _download(ctx: TaskContext, entry: CatalogueEntry, target: Path) -> Path:
    return download(entry.url, target, entry.sha256 or "", entry.size_bytes,
                    progress=ctx.report, cancel=ctx.cancel, approx_size=entry.approx_size_bytes)


def describe_progress(progress: DownloadProgress) -> str:
    done = f"{progress.done / 2**20:.0f} MB"
    total = f" of {progress.total / 2**20:.0f} MB" if progress.total else ""
    return f"Downloading: {done}{total}, {progress.bytes_per_second / 2**20:.1f} MB/s"


class ModelDownloadPanel(QWidget):
    """Shows the catalogue; ``on_downloaded(path)`` is called with a verified file."""

    def __init__(self, tasks: TaskRunner, models_dir: Path,
                 on_downloaded: Callable[[Path], None], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tasks = tasks
        self.models_dir = models_dir
        self.on_downloaded = on_downloaded
        self.entries = load_catalogue()
        self.operation: Operation[Path] | None = None

        self.choice = QComboBox()
        for entry in self.entries:
            star = " — recommended" if entry.recommended else ""
            self.choice.addItem(f"{entry.title}{star}")
        self.choice.currentIndexChanged.connect(self._describe)
        self.download_button = QPushButton("Download")
        self.download_button.clicked.connect(self.start)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        self.status = QLabel()
        self.status.setWordWrap(True)
        row = QHBoxLayout()
        row.addWidget(self.choice, 1)
        row.addWidget(self.download_button)
        row.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.status)
        self._describe(self.choice.currentIndex())

    def _entry(self) -> CatalogueEntry | None:
        index = self.choice.currentIndex()
        return self.entries[index] if 0 <= index < len(self.entries) else None

    def _describe(self, _: int) -> None:
        entry = self._entry()
        if entry is None:
            return
        target = self.models_dir / entry.file
        note = entry.description
        if entry.shown_size:
            note += f" About {entry.shown_size / 1e9:.1f} GB to download."
        if target.is_file():
            note += " Already downloaded."
        elif not entry.verifiable:
            note += " Its checksum is not recorded yet, so Kenning cannot verify a download."
        self.status.setText(note)
        self.download_button.setEnabled(entry.verifiable and not target.is_file()
                                        and self.operation is None)

    def start(self) -> None:
        entry = self._entry()
        if entry is None or self.operation is not None:
            return
        self.download_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.status.setText("Connecting…")
        self.operation = self.tasks.run(
            partial(_download, entry=entry, target=self.models_dir / entry.file),
            success=self._done,
            failure=self._failed,
            progress=lambda p: self.status.setText(describe_progress(p)),
            finished=self._finished,
            lane="model-download",
        )

    def cancel(self) -> None:
        if self.operation is not None:
            self.operation.cancel()
            self.status.setText("Download stopped. Press Download again to resume it.")
            self._finished()

    def _done(self, path: Path) -> None:
        self.status.setText(f"Downloaded and verified: {path.name}.")
        self.on_downloaded(path)

    def _failed(self, error: BaseException) -> None:
        self.status.setText(str(error))

    def _finished(self) -> None:
        self.operation = None
        self.cancel_button.setEnabled(False)
        entry = self._entry()
        self.download_button.setEnabled(bool(entry and entry.verifiable))
