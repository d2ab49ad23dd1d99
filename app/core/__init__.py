"""Pure logic of the app: settings, secrets by name, endpoints, the dictation session, hotkey
chords, spacing, status, reconnect policy. No Qt, no I/O; imports nothing else of ``app``."""
