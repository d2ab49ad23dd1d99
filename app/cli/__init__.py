"""The ``kyutai-dictate`` commands: the parser and entry point, transcribe, devices, bench,
deploy."""
