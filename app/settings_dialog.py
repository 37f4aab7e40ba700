"""Settings: which model, how many CPU threads, and where Kenning keeps its data."""

from __future__ import annotations

import os
from dataclasses import replace
from functools import partial
from pathlib import Path

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.engine import Engine
from app.model_download import ModelDownloadPanel
from app.tasks import TaskContext, TaskRunner
from core.config import AppPaths
from core.integrate import Report, change_here, installed_here, launch_command
from core.models.check import ModelReport, check_model
from core.models.embed_head import bundled_head_tag
from core.models.profiles import GENERIC, embed_recipe
from core.service.autostart import change_login_start, starts_at_login

BUNDLED = "The bundled model (gemma-3-270m)"
#: Settings.answer_mode values with what they mean to a user.
ANSWER_MODES = (
    ("auto", "Automatic: quote with a small model, write with a capable one"),
    ("quote", "Quote the sentences of my files that answer"),
    ("write", "Let the model write an answer, checked against my files"),
)
PROFILE_TEXT = {
    "grit": "embeds and answers (GritLM-style unified model)",
    "generic": "chat model; search leans on keywords",
    "encoder": "embedding-only model; cannot answer questions",
}


def _check_file(_: TaskContext, path: str) -> ModelReport:
    return check_model(Path(path))


def describe_size(size_bytes: int) -> str:
    mib = size_bytes / 2**20
    return f"{mib / 1024:.2f} GB" if mib >= 1024 else f"{mib:.0f} MB"


class SettingsDialog(QDialog):
    def __init__(self, engine: Engine, tasks: TaskRunner, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.resize(680, 380)
        self.engine = engine
        self.tasks = tasks
        settings = engine.settings
        self._initial_model = settings.model_path
        self._refused = ""  # why the chosen file cannot be used, "" when it can

        self.model_path = QLineEdit(settings.model_path)
        self.model_path.setPlaceholderText(BUNDLED)
        self.model_path.textChanged.connect(self._describe_chosen)
        browse = QPushButton("Choose…")
        browse.clicked.connect(self.choose_model)
        bundled = QPushButton("Use bundled")
        bundled.setToolTip("Go back to the model that comes with Kenning")
        bundled.clicked.connect(self.model_path.clear)
        model_row = QHBoxLayout()
        model_row.addWidget(self.model_path, 1)
        model_row.addWidget(browse)
        model_row.addWidget(bundled)
        self.model_info = QLabel()
        self.model_info.setWordWrap(True)
        self.loaded_info = QLabel(f"In use now: {engine.model_description}")
        self.loaded_info.setWordWrap(True)

        self.embedder = EmbedderChoice(tasks, settings.embedding_model_path)
        self.embedder.path.textChanged.connect(lambda _: self._describe_chosen(
            self.model_path.text()))

        self.threads = QSpinBox()
        self.threads.setRange(0, max(1, os.cpu_count() or 1) * 2)
        self.threads.setSpecialValueText("All cores")
        self.threads.setValue(settings.threads)
        self.threads.setToolTip("CPU cores Kenning may use for the model and for reading "
                                "files; fewer keeps the computer livelier")

        data_dir = engine.services.paths.data_dir
        data_label = QLabel(str(data_dir))
        data_label.setWordWrap(True)
        open_data = QPushButton("Open")
        open_data.clicked.connect(
            lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(str(data_dir)))
        )
        data_row = QHBoxLayout()
        data_row.addWidget(data_label, 1)
        data_row.addWidget(open_data)

        form = QFormLayout()
        form.addRow("Model file (GGUF):", model_row)
        form.addRow("", self.model_info)
        form.addRow("", self.loaded_info)
        self.downloads = ModelDownloadPanel(
            tasks, engine.services.paths.models_dir,
            on_downloaded=lambda path: self.model_path.setText(str(path)))
        form.addRow("Download a model:", self.downloads)
        form.addRow("Separate embedder:", self.embedder)
        form.addRow("CPU threads:", self.threads)
        self.answer_mode = QComboBox()
        for value, label in ANSWER_MODES:
            self.answer_mode.addItem(label, value)
        known = [value for value, _ in ANSWER_MODES]
        chosen_mode = settings.answer_mode if settings.answer_mode in known else "auto"
        self.answer_mode.setCurrentIndex(known.index(chosen_mode))
        form.addRow("Answers:", self.answer_mode)
        self.file_manager = FileManagerEntry(tasks)
        form.addRow("File manager:", self.file_manager)
        self.login_start = LoginStart(tasks, engine.services.paths)
        form.addRow("At login:", self.login_start)
        form.addRow("Index and models:", data_row)
        self.restart_note = QLabel("")
        self.restart_note.setWordWrap(True)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.restart_note)
        layout.addStretch(1)
        layout.addWidget(buttons)
        self._describe_chosen(self.model_path.text())

    def choose_model(self) -> None:
        start = self.model_path.text() or str(Path.home())
        chosen, _ = QFileDialog.getOpenFileName(
            self, "Choose a model file", start, "GGUF models (*.gguf);;All files (*)"
        )
        if chosen:
            self.model_path.setText(chosen)

    def _describe_chosen(self, text: str) -> None:
        path = text.strip()
        changed = path != self._initial_model or self.embedder.changed
        self.restart_note.setText(
            "A new model takes effect the next time Kenning starts; files are then understood "
            "again by the new model, in the background."
            if changed
            else ""
        )
        if not path:
            recipe = embed_recipe(GENERIC.name, bundled_head_tag())[1]
            self.model_info.setText(f"{BUNDLED}. Embed mode: {recipe}.")
            return
        self.model_info.setText("Checking the file…")
        self._refused = ""
        self.tasks.run(
            partial(_check_file, path=path),
            success=self._show_file_info,
            failure=self._show_refusal,
            lane="settings-model-info",
        )

    def _show_file_info(self, report: ModelReport) -> None:
        self._refused = ""
        self.model_info.setText(
            f"{report.name}: {describe_size(report.size_bytes)}, {report.architecture}, "
            f"{report.quantization}, context {report.context_length} tokens, "
            f"{PROFILE_TEXT.get(report.profile, report.profile)}. Embed mode: "
            f"{embed_recipe(report.profile, report.embed_head)[1]}."
        )

    def _show_refusal(self, error: BaseException) -> None:
        self._refused = str(error)
        self.model_info.setText(f"{error} The current model is kept.")

    def accept(self) -> None:
        chosen = self.model_path.text().strip()
        if self._refused and chosen != self._initial_model:
            chosen = self._initial_model  # never switch to a file that was refused
        settings = replace(
            self.engine.settings,
            model_path=chosen,
            embedding_model_path=self.embedder.chosen(),
            threads=self.threads.value(),
            answer_mode=str(self.answer_mode.currentData()),
        )
        if settings != self.engine.settings:
            self.engine.update_settings(settings)
        super().accept()


class FileManagerEntry(QWidget):
    """Add or remove "Ask Kenning about this folder" in the file manager's right-click menu."""

    def __init__(self, tasks: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tasks = tasks
        self.state = QLabel("Checking…")
        self.state.setWordWrap(True)
        self.button = QPushButton()
        self.button.setEnabled(False)
        self.button.clicked.connect(self._toggle)
        self._installed = False
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.state, 1)
        row.addWidget(self.button)
        tasks.run(lambda _: installed_here(), success=self._show, lane="settings-integrate")

    def _show(self, installed: object) -> None:
        self._installed = bool(installed)
        self.state.setText(
            "Right-click a folder and choose \u201cAsk Kenning about this folder\u201d."
            if self._installed
            else "Not in the right-click menu of your file manager."
        )
        self.button.setText("Remove" if self._installed else "Add to right-click menu")
        self.button.setEnabled(True)

    def _toggle(self) -> None:
        self.button.setEnabled(False)
        install = not self._installed
        self.tasks.run(
            lambda _: change_here(install), success=self._changed, failure=self._failed,
            lane="settings-integrate",
        )  # fmt: skip

    def _changed(self, report: object) -> None:
        assert isinstance(report, Report)
        self._show(report.action == "install" and not report.failed)
        if report.failed:
            failed = [o for o in report.outcomes if o.status == "error"]
            problems = "; ".join(o.message or o.path for o in failed)
            self.state.setText(f"Some entries could not be changed: {problems}")
        elif report.action == "install":
            self.state.setText(
                "Added. Right-click a folder and choose \u201cAsk Kenning about this folder\u201d "
                "(a file manager that is open may need a restart to show it)."
            )

    def _failed(self, error: BaseException) -> None:
        self.state.setText(f"Could not change the right-click menu: {error}")
        self.button.setEnabled(True)


class LoginStart(QWidget):
    """Start Kenning's background service when the user logs in (their choice, off until
    they make it), so folders stay indexed without opening the window."""

    def __init__(self, tasks: TaskRunner, paths: AppPaths, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tasks = tasks
        self.paths = paths
        self.box = QCheckBox("Start Kenning in the background when I log in")
        self.box.setEnabled(False)
        self.note = QLabel("")
        self.note.setWordWrap(True)
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.box)
        column.addWidget(self.note)
        tasks.run(lambda _: starts_at_login(), success=self._show, lane="settings-login")

    def _show(self, enabled: object) -> None:
        self.box.blockSignals(True)
        self.box.setChecked(bool(enabled))
        self.box.blockSignals(False)
        self.box.setEnabled(True)
        self.box.toggled.connect(self._change)

    def _change(self, enable: bool) -> None:
        self.box.setEnabled(False)
        paths = self.paths
        self.tasks.run(lambda _: change_login_start(enable, paths, launch_command(None)),
                       success=self._changed, failure=self._failed, lane="settings-login")

    def _changed(self, report: object) -> None:
        assert isinstance(report, Report)
        self.box.setEnabled(True)
        if report.failed:
            problems = "; ".join(o.message or o.path for o in report.outcomes
                                 if o.status == "error")
            self.note.setText(f"That could not be changed: {problems}")
        else:
            self.note.setText("")

    def _failed(self, error: BaseException) -> None:
        self.note.setText(f"That could not be changed: {error}")
        self.box.setEnabled(True)


class EmbedderChoice(QWidget):
    """An optional separate embedding GGUF for search; the model above keeps writing answers."""

    TRADE_OFF = (
        "Optional. A small sentence encoder such as all-MiniLM-L6-v2 finds passages by meaning "
        "far better than the bundled model (medical abstracts: 0.78 against 0.71 nDCG@10, "
        "hybrid) and reads files 3\u20134\u00d7 faster; the model above still writes the "
        "answers. Files are understood again by it in the background."
    )

    def __init__(self, tasks: TaskRunner, current: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tasks = tasks
        self.initial = current
        self._refused = ""
        self.path = QLineEdit(current)
        self.path.setPlaceholderText("None: the model above does both")
        self.path.textChanged.connect(self._describe)
        browse = QPushButton("Choose…")
        browse.clicked.connect(self._choose)
        none = QPushButton("None")
        none.setToolTip("Search and answer with one model")
        none.clicked.connect(self.path.clear)
        self.info = QLabel()
        self.info.setWordWrap(True)
        row = QHBoxLayout()
        row.addWidget(self.path, 1)
        row.addWidget(browse)
        row.addWidget(none)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.info)
        self._describe(current)

    @property
    def changed(self) -> bool:
        return self.chosen() != self.initial

    def chosen(self) -> str:
        """The path to save: the initial one when the new file was refused."""
        path = self.path.text().strip()
        return self.initial if self._refused and path != self.initial else path

    def _choose(self) -> None:
        start = self.path.text() or str(Path.home())
        chosen, _ = QFileDialog.getOpenFileName(
            self, "Choose an embedding model", start, "GGUF models (*.gguf);;All files (*)"
        )
        if chosen:
            self.path.setText(chosen)

    def _describe(self, text: str) -> None:
        path = text.strip()
        self._refused = ""
        if not path:
            self.info.setText(self.TRADE_OFF)
            return
        self.info.setText("Checking the file…")
        self.tasks.run(
            partial(_check_file, path=path),
            success=self._show_file_info,
            failure=self._show_refusal,
            lane="settings-embedder-info",
        )

    def _show_file_info(self, report: ModelReport) -> None:
        self._refused = ""
        kind = ("a sentence encoder" if report.sentence_encoder else
                f"a \u201c{report.profile}\u201d model, not a sentence encoder")
        self.info.setText(
            f"{report.name}: {describe_size(report.size_bytes)}, {report.architecture}, "
            f"{report.quantization}, {kind}. It will find passages by meaning; the model "
            "above writes the answers."
        )

    def _show_refusal(self, error: BaseException) -> None:
        self._refused = str(error)
        self.info.setText(f"{error} The current choice is kept.")
