"""Audio at the edge: the microphone (PortAudio), capture, audio files, resampling, pacing and
the level meter. Imports only ``app.core``."""
