"""The settings dialog's voice page: voice commands (a switch, what "new line" presses, the
pause that sets a command apart, the list of commands) and your own words (the replacement
rules, edited as text, imported and exported as plain text or CSV)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.core.settings import VoiceSettings
from app.core.voice_edits import Rule
from app.core.word_rules import RulesError, format_csv, format_plain, merged, parse_csv, parse_plain
from app.desktop.atomic_file import write_atomically
from app.ui.settings.form import NEWLINE_LABELS, command_list
from app.ui.settings.widgets import error_label, show_error

RULES_FILTER = "Rules (*.txt *.csv);;All files (*)"


class VoiceSection(QWidget):
    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._newlines = list(NEWLINE_LABELS)
        self.commands_check = QCheckBox("Voice commands (English and French)")
        self.newline_combo = QComboBox()
        self.newline_combo.addItems([NEWLINE_LABELS[key] for key in self._newlines])
        self.pause_spin = QDoubleSpinBox()
        self.pause_spin.setRange(0.3, 2.0)
        self.pause_spin.setSingleStep(0.1)
        self.pause_spin.setSuffix(" s")
        self.pause_spin.setToolTip(
            "A command counts only as a phrase of its own: after and before a pause this long"
        )
        self.command_list = QLabel(command_list())
        self.command_list.setObjectName("commands")
        self.command_list.setTextFormat(Qt.TextFormat.PlainText)
        self.command_list.setWordWrap(True)
        commands_box = QGroupBox("Voice commands")
        commands_form = QFormLayout(commands_box)
        commands_form.addRow(self.commands_check)
        commands_form.addRow('"New line" presses', self.newline_combo)
        commands_form.addRow("Pause around a command", self.pause_spin)
        commands_form.addRow(self.command_list)

        self.rules_check = QCheckBox("Replace what I say with my own words")
        self.rules_edit = QPlainTextEdit()
        self.rules_edit.setObjectName("rules")
        self.rules_edit.setPlaceholderText("pie torch -> PyTorch\nmy email -> me@example.com")
        self.rules_error = error_label()
        import_button = QPushButton("Import…")
        export_button = QPushButton("Export…")
        import_button.clicked.connect(lambda: self._choose_file(save=False))
        export_button.clicked.connect(lambda: self._choose_file(save=True))
        file_row = QHBoxLayout()
        file_row.addStretch(1)
        file_row.addWidget(import_button)
        file_row.addWidget(export_button)
        rules_box = QGroupBox("Your own words: one rule a line, 'spoken phrase -> text'")
        rules_layout = QVBoxLayout(rules_box)
        rules_layout.addWidget(self.rules_check)
        rules_layout.addWidget(self.rules_edit, 1)
        rules_layout.addWidget(self.rules_error)
        rules_layout.addLayout(file_row)

        layout = QVBoxLayout(self)
        layout.addWidget(commands_box)
        layout.addWidget(rules_box, 1)
        self.commands_check.toggled.connect(self._commands_toggled)
        self.rules_edit.textChanged.connect(self._rules_changed)

    def set_values(self, voice: VoiceSettings, rules: list[Rule]) -> None:
        self.commands_check.setChecked(voice.commands)
        self.newline_combo.setCurrentIndex(self._newlines.index(voice.newline))
        self.pause_spin.setValue(voice.pause_seconds)
        self.rules_check.setChecked(voice.replacements)
        self.rules_edit.setPlainText(format_plain(rules))
        self._commands_toggled(voice.commands)

    def values(self, original: VoiceSettings) -> VoiceSettings:
        return replace(
            original,
            commands=self.commands_check.isChecked(),
            newline=self._newlines[self.newline_combo.currentIndex()],
            pause_seconds=round(self.pause_spin.value(), 2),
            replacements=self.rules_check.isChecked(),
        )

    def rules(self) -> list[Rule]:
        """The rules in the editor (raises :class:`RulesError` on a bad line)."""
        return parse_plain(self.rules_edit.toPlainText())

    def problem(self) -> str | None:
        try:
            self.rules()
        except RulesError as exc:
            return f"Your own words, {exc}"
        return None

    def import_rules(self, path: Path) -> None:
        """Add the rules of a plain text or CSV file to the editor (one with the same spoken
        phrase is replaced); a bad file is reported and changes nothing."""
        try:
            text = path.read_text(encoding="utf-8")
            added = parse_csv(text) if path.suffix.lower() == ".csv" else parse_plain(text)
            rules = merged(self.rules(), added)
        except (OSError, UnicodeDecodeError, RulesError) as exc:
            show_error(self.rules_error, f"Not imported from {path.name}: {_reason(exc)}")
            return
        self.rules_edit.setPlainText(format_plain(rules))

    def export_rules(self, path: Path) -> None:
        """Write the editor's rules to a plain text file, or CSV for a ``.csv`` name."""
        try:
            rules = self.rules()
            text = format_csv(rules) if path.suffix.lower() == ".csv" else format_plain(rules)
            write_atomically(path, text)
        except (OSError, RulesError) as exc:
            show_error(self.rules_error, f"Not exported: {_reason(exc)}")
            return
        show_error(self.rules_error, None)

    def _choose_file(self, save: bool) -> None:
        # Not modal: a modal file dialog would nest an event loop under qasync.
        dialog = QFileDialog(self, "Export rules" if save else "Import rules")
        dialog.setNameFilter(RULES_FILTER)
        if save:
            dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
            dialog.fileSelected.connect(lambda name: self.export_rules(Path(name)))
        else:
            dialog.setFileMode(QFileDialog.FileMode.ExistingFile)
            dialog.fileSelected.connect(lambda name: self.import_rules(Path(name)))
        dialog.open()

    def _commands_toggled(self, on: bool) -> None:
        self.newline_combo.setEnabled(on)
        self.pause_spin.setEnabled(on)

    def _rules_changed(self) -> None:
        show_error(self.rules_error, self.problem())
        self.changed.emit()


def _reason(exc: Exception) -> str:
    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    if isinstance(exc, UnicodeDecodeError):
        return "not a UTF-8 text file"
    return str(exc)
