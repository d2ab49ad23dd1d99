"""The XDG desktop portals this app uses on GNOME and KDE (RemoteDesktop, GlobalShortcuts)."""
