"""Counters the proxy exposes on ``/metrics`` (Prometheus text format)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from server.protocol import ErrorCode


@dataclass
class ProxyStats:
    streams_total: int = 0
    streams_active: int = 0
    tokens: int = 0
    max_backlog_samples: int = 0
    throttled_streams: int = 0  # streams slowed for sending audio far faster than real time
    refused_connections: int = 0  # over the connection limit of their token or address
    errors: Counter[ErrorCode] = field(default_factory=Counter)

    def render(self) -> str:
        """The counters in Prometheus exposition format."""
        lines = [
            "# TYPE kyutai_dictate_streams_total counter",
            f"kyutai_dictate_streams_total {self.streams_total}",
            "# TYPE kyutai_dictate_streams_active gauge",
            f"kyutai_dictate_streams_active {self.streams_active}",
            "# TYPE kyutai_dictate_tokens_total counter",
            f"kyutai_dictate_tokens_total {self.tokens}",
            "# TYPE kyutai_dictate_backend_backlog_max_samples gauge",
            f"kyutai_dictate_backend_backlog_max_samples {self.max_backlog_samples}",
            "# TYPE kyutai_dictate_streams_throttled_total counter",
            f"kyutai_dictate_streams_throttled_total {self.throttled_streams}",
            "# TYPE kyutai_dictate_connections_refused_total counter",
            f"kyutai_dictate_connections_refused_total {self.refused_connections}",
            "# TYPE kyutai_dictate_errors_total counter",
        ]
        lines += [
            f'kyutai_dictate_errors_total{{code="{code.value}"}} {self.errors[code]}'
            for code in ErrorCode
        ]
        return "\n".join(lines) + "\n"
