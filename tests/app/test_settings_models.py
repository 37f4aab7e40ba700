"""The settings dialog checks a chosen GGUF in the background and refuses a bad one."""

from __future__ import annotations

from pathlib import Path

from app.settings_dialog import SettingsDialog
from tests.gguf_factory import write_tiny_gguf


def test_a_bad_file_is_refused_with_its_reason_and_not_saved(qtbot, make_window, tmp_path):
    window = make_window(show=False)
    dialog = SettingsDialog(window.engine, window.tasks)
    qtbot.addWidget(dialog)
    bad = tmp_path / "notes.gguf"
    bad.write_text("not a model")

    dialog.model_path.setText(str(bad))
    qtbot.waitUntil(lambda: "not a GGUF" in dialog.model_info.text(), timeout=10_000)
    assert "current model is kept" in dialog.model_info.text()
    dialog.accept()
    assert window.engine.settings.model_path == ""


def test_a_good_file_shows_its_details(qtbot, make_window, tmp_path):
    window = make_window(show=False)
    dialog = SettingsDialog(window.engine, window.tasks)
    qtbot.addWidget(dialog)
    dialog.model_path.setText(str(write_tiny_gguf(tmp_path / "tiny.gguf", name="tiny")))
    qtbot.waitUntil(lambda: "context 512" in dialog.model_info.text(), timeout=10_000)
    assert "llama" in dialog.model_info.text() and "ALL_F32" in dialog.model_info.text()


def test_the_catalogue_download_runs_in_the_background_and_verifies(qtbot, make_window,
                                                                     tmp_path):
    import hashlib
    import http.server
    import threading
    from dataclasses import replace

    from app.model_download import ModelDownloadPanel

    payload = b"GGUF" + bytes(300_000)

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        window = make_window(show=False)
        got: list[Path] = []
        panel = ModelDownloadPanel(window.tasks, tmp_path / "models", got.append)
        qtbot.addWidget(panel)
        assert panel.download_button.isEnabled()  # the shipped entries carry a sha256
        panel.entries = [replace(panel.entries[0],
                                 url=f"http://127.0.0.1:{server.server_address[1]}/m.gguf",
                                 sha256=hashlib.sha256(payload).hexdigest(),
                                 size_bytes=len(payload))]
        panel.start()
        qtbot.waitUntil(lambda: bool(got), timeout=10_000)
        assert got[0].read_bytes() == payload
        assert "verified" in panel.status.text()
    finally:
        server.shutdown()
        server.server_close()


def test_the_right_click_entry_is_added_and_removed_from_the_settings(
    qtbot, make_window, tmp_path, monkeypatch
):
    user_home = tmp_path / "user"
    for variable, folder in (("HOME", ""), ("XDG_DATA_HOME", ".local/share"),
                             ("XDG_CONFIG_HOME", ".config")):
        monkeypatch.setenv(variable, str(user_home / folder))
    desktop_entry = user_home / ".local/share/applications/kenning-ask-folder.desktop"
    window = make_window(show=False)
    dialog = SettingsDialog(window.engine, window.tasks)
    qtbot.addWidget(dialog)
    entry = dialog.file_manager
    qtbot.waitUntil(entry.button.isEnabled, timeout=10_000)
    assert entry.button.text() == "Add to right-click menu"

    entry.button.click()
    qtbot.waitUntil(lambda: entry.state.text().startswith("Added."), timeout=10_000)
    assert "ask-folder %f" in desktop_entry.read_text(encoding="utf-8")
    assert entry.button.text() == "Remove"

    entry.button.click()
    qtbot.waitUntil(lambda: entry.button.text() == "Add to right-click menu", timeout=10_000)
    assert not desktop_entry.exists()


def test_a_separate_embedder_is_checked_shown_and_saved(qtbot, make_window, tmp_path):
    window = make_window(show=False)
    dialog = SettingsDialog(window.engine, window.tasks)
    qtbot.addWidget(dialog)
    embedder = dialog.embedder
    assert "all-MiniLM-L6-v2" in embedder.info.text()  # the trade-off, while none is chosen

    bad = tmp_path / "broken.gguf"
    bad.write_text("not a model")
    embedder.path.setText(str(bad))
    qtbot.waitUntil(lambda: "current choice is kept" in embedder.info.text(), timeout=10_000)
    assert embedder.chosen() == ""

    tiny = write_tiny_gguf(tmp_path / "tiny.gguf", name="tiny")
    embedder.path.setText(str(tiny))
    qtbot.waitUntil(lambda: "not a sentence encoder" in embedder.info.text(), timeout=10_000)
    assert "next time Kenning starts" in dialog.restart_note.text()
    dialog.accept()
    assert window.engine.settings.embedding_model_path == str(tiny)
    assert window.engine.settings.model_path == ""


def test_how_answers_are_made_is_shown_and_saved(qtbot, make_window):
    window = make_window(show=False)
    dialog = SettingsDialog(window.engine, window.tasks)
    qtbot.addWidget(dialog)
    assert dialog.answer_mode.currentData() == "auto"
    dialog.answer_mode.setCurrentIndex(dialog.answer_mode.findData("write"))
    dialog.accept()
    assert window.engine.settings.answer_mode == "write"
    again = SettingsDialog(window.engine, window.tasks)
    qtbot.addWidget(again)
    assert again.answer_mode.currentData() == "write"


def test_starting_at_login_is_the_users_choice_in_the_settings(
    qtbot, make_window, tmp_path, monkeypatch
):
    user_home = tmp_path / "user"
    monkeypatch.setenv("HOME", str(user_home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(user_home / ".config"))
    entry = user_home / ".config/autostart/kenning-service.desktop"
    window = make_window(show=False)
    dialog = SettingsDialog(window.engine, window.tasks)
    qtbot.addWidget(dialog)
    login = dialog.login_start
    qtbot.waitUntil(login.box.isEnabled, timeout=10_000)
    assert not login.box.isChecked() and not entry.exists()  # off until the user says so

    login.box.setChecked(True)
    qtbot.waitUntil(entry.exists, timeout=10_000)
    home = str(window.engine.services.paths.home)
    assert f'"{home}"' in entry.read_text() and '"service" "run"' in entry.read_text()
    qtbot.waitUntil(login.box.isEnabled, timeout=10_000)
    login.box.setChecked(False)
    qtbot.waitUntil(lambda: not entry.exists(), timeout=10_000)
    assert login.note.text() == ""


def test_the_dialog_says_which_embed_recipe_a_model_uses(qtbot, make_window, tmp_path):
    window = make_window(show=False)
    dialog = SettingsDialog(window.engine, window.tasks)
    qtbot.addWidget(dialog)
    dialog.model_path.setText("")
    # the bundled model: its trained embed mode is on by default (core/models/embed_head.py)
    assert "Embed mode: trained for this model" in dialog.model_info.text()
    decoder = write_tiny_gguf(tmp_path / "decoder.gguf", arch="llama")
    dialog.model_path.setText(str(decoder))
    qtbot.waitUntil(lambda: "Embed mode: zero-shot" in dialog.model_info.text(), timeout=10_000)
    encoder = write_tiny_gguf(tmp_path / "encoder.gguf", arch="bert", causal=False)
    dialog.model_path.setText(str(encoder))
    qtbot.waitUntil(lambda: "Embed mode: trained" in dialog.model_info.text(), timeout=10_000)
