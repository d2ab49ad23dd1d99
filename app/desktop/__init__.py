"""The desktop around a dictation: the dictation driver, typing and typists, the focus guard,
the hotkey listener, and the stores (secrets, settings, autostart)."""
