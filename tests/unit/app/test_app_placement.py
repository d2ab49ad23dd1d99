"""Keeping a window whole on the screen."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from app.core.placement import fit_on_screen

SCREEN = (0, 0, 1280, 800)


def test_a_window_inside_stays_where_it_is() -> None:
    assert fit_on_screen((100, 600, 640, 120), SCREEN) == (100, 600, 640, 120)


def test_a_window_past_the_right_edge_comes_back() -> None:
    assert fit_on_screen((1000, 700, 640, 120), SCREEN) == (640, 680, 640, 120)


def test_a_window_larger_than_the_screen_shrinks_to_it() -> None:
    assert fit_on_screen((-50, -50, 3000, 900), SCREEN) == (0, 0, 1280, 800)


def test_a_second_monitor_to_the_left_counts() -> None:
    left = (-1920, 0, 1920, 1080)
    assert fit_on_screen((-100, 500, 640, 120), left) == (-640, 500, 640, 120)


@given(
    st.tuples(
        st.integers(-5000, 5000), st.integers(-5000, 5000), st.integers(1, 4000),
        st.integers(1, 4000),
    ),
    st.tuples(
        st.integers(-3000, 3000), st.integers(-3000, 3000), st.integers(200, 4000),
        st.integers(200, 4000),
    ),
)  # fmt: skip
def test_the_result_is_always_whole_on_the_screen(
    rect: tuple[int, int, int, int], screen: tuple[int, int, int, int]
) -> None:
    x, y, width, height = fit_on_screen(rect, screen)
    sx, sy, s_width, s_height = screen
    assert sx <= x
    assert x + width <= sx + s_width
    assert sy <= y
    assert y + height <= sy + s_height
    assert (width, height) == (min(rect[2], s_width), min(rect[3], s_height))
