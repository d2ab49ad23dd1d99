"""The settings dialog: its pages, the pure form logic, the deploy panel, and opening it from
the running app."""
