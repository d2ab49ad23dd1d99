"""Hypothesis settings for the fuzz tests: a short default run, and the ``fuzz`` profile
(``pytest --hypothesis-profile=fuzz``) for the long one; the profiles are registered in
``tests/conftest.py``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

_F = TypeVar("_F", bound=Callable[..., Any])
_DEFAULT_EXAMPLES = 100
_SLOW_OK = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]


def given_fuzz(*strategies: st.SearchStrategy[Any]) -> Callable[[_F], _F]:
    """``@given`` with the active profile's number of examples and no deadline."""

    def decorate(test: _F) -> _F:
        return settings(deadline=None, suppress_health_check=_SLOW_OK)(given(*strategies)(test))  # type: ignore[no-any-return]

    return decorate


def machine_settings() -> settings:
    """Settings for a state machine test: short runs by default; in a long run a tenth of the
    profile's examples (each is a run of up to ``stateful_step_count`` steps)."""
    if settings().max_examples > _DEFAULT_EXAMPLES:
        examples = scaled_examples(_DEFAULT_EXAMPLES, share=0.1)
        return settings(deadline=None, suppress_health_check=_SLOW_OK, max_examples=examples)
    return settings(deadline=None, suppress_health_check=_SLOW_OK, stateful_step_count=25)


def register_profiles() -> None:
    settings.register_profile("fuzz", max_examples=20_000, stateful_step_count=100, deadline=None)


def scaled_examples(default: int, share: float) -> int:
    """``default`` examples in the short run; ``share`` of the active profile's in a long one
    (for tests whose examples are slow, such as a stream through the proxy)."""
    configured = settings().max_examples
    return max(default, int(configured * share)) if configured > _DEFAULT_EXAMPLES else default
