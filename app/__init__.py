"""The kyutai-dictate desktop app and command-line client."""
