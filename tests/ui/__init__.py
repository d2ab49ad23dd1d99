"""Tests of the desktop app's windows."""
