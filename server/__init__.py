"""Backend side of kyutai-dictate: wire protocols, the /v1/stream proxy, deployment."""
