"""The settings page for the history (what is kept, for how long) and the sound cues."""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.core.settings import HistorySettings, SoundSettings


def _spin(low: int, high: int, suffix: str) -> QSpinBox:
    box = QSpinBox()
    box.setRange(low, high)
    box.setSuffix(suffix)
    return box


def _days(low: float, high: float) -> QDoubleSpinBox:
    box = QDoubleSpinBox()
    box.setRange(low, high)
    box.setDecimals(1)
    box.setSuffix(" days")
    return box


class HistorySection(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.keep_audio = QCheckBox("Keep the audio, so a dictation can be transcribed again")
        self.audio_count = _spin(1, 100_000, " dictations")
        self.audio_days = _days(0.1, 3650)
        self.audio_megabytes = _spin(1, 1_000_000, " MB")
        self.text_days = _days(1, 36_500)
        history_box = QGroupBox("History (in your data folder, never in the log)")
        form = QFormLayout(history_box)
        form.addRow(self.keep_audio)
        form.addRow("Audio of the last", self.audio_count)
        form.addRow("Audio no older than", self.audio_days)
        form.addRow("Audio at most", self.audio_megabytes)
        form.addRow("Text kept for", self.text_days)
        self.keep_audio.toggled.connect(self._audio_toggled)

        self.cues = QCheckBox("Play a sound when dictation starts, stops or fails")
        self.volume = QSlider(Qt.Orientation.Horizontal)
        self.volume.setRange(0, 100)
        self.volume_value = QLabel()
        self.volume.valueChanged.connect(lambda value: self.volume_value.setText(f"{value} %"))
        volume = QHBoxLayout()
        volume.addWidget(self.volume, 1)
        volume.addWidget(self.volume_value)
        sounds_box = QGroupBox("Sounds")
        sounds = QFormLayout(sounds_box)
        sounds.addRow(self.cues)
        sounds.addRow("Volume", volume)

        layout = QVBoxLayout(self)
        layout.addWidget(history_box)
        layout.addWidget(sounds_box)
        layout.addStretch(1)
        self._initial = self._shown()

    def _audio_toggled(self, on: bool) -> None:
        for box in (self.audio_count, self.audio_days, self.audio_megabytes):
            box.setEnabled(on)

    def set_values(self, history: HistorySettings, sounds: SoundSettings) -> None:
        self.keep_audio.setChecked(history.keep_audio)
        self._audio_toggled(history.keep_audio)
        self.audio_count.setValue(history.audio_count)
        self.audio_days.setValue(history.audio_days)
        self.audio_megabytes.setValue(round(history.audio_megabytes))
        self.text_days.setValue(history.text_days)
        self.cues.setChecked(sounds.cues)
        self.volume.setValue(round(sounds.volume * 100))
        self.volume_value.setText(f"{self.volume.value()} %")
        self._initial = self._shown()

    def values(
        self, history: HistorySettings, sounds: SoundSettings
    ) -> tuple[HistorySettings, SoundSettings]:
        """The form's values; a field left as it was shown keeps its exact value."""
        shown = self._shown()

        def kept(index: int, original: float) -> float:
            return original if shown[index] == self._initial[index] else shown[index]

        return (
            replace(
                history,
                keep_audio=self.keep_audio.isChecked(),
                audio_count=self.audio_count.value(),
                audio_days=kept(0, history.audio_days),
                audio_megabytes=kept(1, history.audio_megabytes),
                text_days=kept(2, history.text_days),
            ),
            replace(sounds, cues=self.cues.isChecked(), volume=kept(3, sounds.volume)),
        )

    def _shown(self) -> tuple[float, float, float, float]:
        return (
            self.audio_days.value(),
            float(self.audio_megabytes.value()),
            self.text_days.value(),
            self.volume.value() / 100,
        )
