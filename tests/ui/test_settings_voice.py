"""The settings dialog's voice page: the switches and the rules editor, with import and
export as plain text and CSV, and bad rules or files reported without losing anything."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QApplication, QLabel

from app.audio.microphone import InputDevice
from app.core.credentials import secret_lookup
from app.core.settings import NewlineKey, Settings, VoiceSettings
from app.core.voice_edits import Rule
from app.ui.settings.dialog import SettingsDialog

PYTORCH = Rule("pie torch", "PyTorch")


class SilentMeter:
    def open(self, device: int | None) -> None: ...
    def close(self) -> None: ...
    def take_peak(self) -> float:
        return 0.0


def make_dialog(
    voice: VoiceSettings | None = None, rules: tuple[Rule, ...] = (PYTORCH,)
) -> tuple[SettingsDialog, list[Settings], list[list[Rule]]]:
    dialog = SettingsDialog(
        Settings(voice=voice or VoiceSettings()),
        find_secret=secret_lookup({}, lambda secret: None),
        store_secret=lambda secret, value: None,
        devices=list[InputDevice](),
        check=None,
        meter=SilentMeter(),
        autostart_supported=True,
        rules=rules,
    )
    saved: list[Settings] = []
    rules_saved: list[list[Rule]] = []
    dialog.saved.connect(saved.append)
    dialog.rules_saved.connect(rules_saved.append)
    return dialog, saved, rules_saved


def test_voice_settings_round_trip(qapp: QApplication) -> None:
    dialog, saved, rules_saved = make_dialog()
    page = dialog.voice
    assert page.commands_check.isChecked()  # on by default
    assert page.rules_edit.toPlainText() == "pie torch -> PyTorch\n"
    page.commands_check.setChecked(False)
    page.newline_combo.setCurrentIndex(1)
    page.pause_spin.setValue(0.9)
    dialog.save()
    voice = saved[-1].voice
    assert (voice.commands, voice.newline, voice.pause_seconds) == (
        False,
        NewlineKey.SHIFT_RETURN,
        0.9,
    )
    assert rules_saved == []  # the rules did not change: the file is not rewritten


def test_the_page_lists_the_commands_in_both_languages(qapp: QApplication) -> None:
    dialog, _, _ = make_dialog()
    listed = dialog.voice.findChild(QLabel, "commands")
    assert listed is not None
    assert "“scratch that”" in listed.text()
    assert "“à la ligne”" in listed.text()


def test_edited_rules_are_saved_and_a_bad_line_blocks_save(qapp: QApplication) -> None:
    dialog, saved, rules_saved = make_dialog()
    page = dialog.voice
    page.rules_edit.setPlainText("pie torch -> PyTorch\nkyutai Kyutai\n")
    assert "line 2" in (dialog.problem() or "")
    dialog.save()
    assert saved == []
    assert rules_saved == []
    assert "line 2" in dialog.error_label.text()
    page.rules_edit.setPlainText("pie torch -> PyTorch\nkyutai -> Kyutai\n")
    dialog.save()
    assert rules_saved == [[PYTORCH, Rule("kyutai", "Kyutai")]]


def test_import_merges_csv_and_plain_files(qapp: QApplication, tmp_path: Path) -> None:
    dialog, _, _ = make_dialog()
    page = dialog.voice
    csv_file = tmp_path / "words.csv"
    csv_file.write_text('spoken,text\npie torch,Torch\n"my email","me@example.com"\n')
    page.import_rules(csv_file)
    assert page.rules() == [Rule("pie torch", "Torch"), Rule("my email", "me@example.com")]
    plain = tmp_path / "more.txt"
    plain.write_text("# mine\nkyutai -> Kyutai\n")
    page.import_rules(plain)
    assert page.rules()[-1] == Rule("kyutai", "Kyutai")


def test_a_bad_import_changes_nothing_and_says_why(qapp: QApplication, tmp_path: Path) -> None:
    dialog, _, _ = make_dialog()
    page = dialog.voice
    before = page.rules_edit.toPlainText()
    bad_csv = tmp_path / "bad.csv"
    bad_csv.write_text("a,b,c\n")
    page.import_rules(bad_csv)
    assert "Not imported from bad.csv: row 1" in page.rules_error.text()
    binary = tmp_path / "binary.txt"
    binary.write_bytes(b"\xff\xfe\x00junk")
    page.import_rules(binary)
    assert "not a UTF-8 text file" in page.rules_error.text()
    page.import_rules(tmp_path / "missing.txt")
    assert "No such file" in page.rules_error.text()
    assert page.rules_edit.toPlainText() == before


def test_export_writes_plain_text_or_csv(qapp: QApplication, tmp_path: Path) -> None:
    dialog, _, _ = make_dialog(rules=(PYTORCH, Rule("my email", "me, at home")))
    page = dialog.voice
    page.export_rules(tmp_path / "out.txt")
    assert (tmp_path / "out.txt").read_text() == "pie torch -> PyTorch\nmy email -> me, at home\n"
    page.export_rules(tmp_path / "out.csv")
    assert (tmp_path / "out.csv").read_text() == (
        'spoken,text\npie torch,PyTorch\nmy email,"me, at home"\n'
    )
    page.export_rules(tmp_path / "out.txt" / "inside-a-file.txt")  # its folder is a file
    assert "Not exported" in page.rules_error.text()
