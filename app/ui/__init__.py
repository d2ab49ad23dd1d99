"""The desktop app's Qt windows and widgets (the settings dialog, tray, overlay)."""
