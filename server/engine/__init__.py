"""A local engine: Kyutai's STT model in Python (``moshi`` + PyTorch) behind moshi-server's
``/api/asr-streaming`` protocol (PROTOCOL.md section 2). The only part of the project that
imports torch or moshi (the ``[engine]`` extra)."""
