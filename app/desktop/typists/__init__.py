"""Typing text into the focused window, one backend per platform and tool."""
