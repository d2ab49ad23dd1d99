"""The `/v1/stream` proxy in front of a moshi-server-protocol backend (`kyutai-dictate serve`)."""
