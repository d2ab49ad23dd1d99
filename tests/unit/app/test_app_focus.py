"""The focus guard's rule: words go where dictation began, or are held."""

from __future__ import annotations

from app.desktop.focus import FocusGuard, open_focus_probe


def test_words_are_typed_while_focus_stays() -> None:
    guard = FocusGuard()
    guard.begin(7)
    assert guard.admit("Hello", 7)
    assert guard.admit(" world", 7)
    assert guard.held == []


def test_once_focus_moves_every_later_word_is_held_even_if_it_comes_back() -> None:
    guard = FocusGuard()
    guard.begin(7)
    assert guard.admit("Hello", 7)
    assert not guard.admit(" there", 9)
    assert not guard.admit(" friend.", 7)
    assert guard.take_held() == " there friend."  # continues "Hello"
    assert guard.held == []


def test_held_words_of_a_dictation_never_typed_lose_their_leading_space() -> None:
    guard = FocusGuard()
    guard.begin(7)
    assert not guard.admit(" Moved", 8)
    assert guard.take_held() == "Moved"


def test_unknown_focus_at_the_start_turns_the_guard_off() -> None:
    guard = FocusGuard()
    guard.begin(None)
    assert guard.admit("Hello", 3)


def test_a_new_dictation_forgets_held_words() -> None:
    guard = FocusGuard()
    guard.begin(1)
    guard.admit("lost", 2)
    guard.begin(2)
    assert guard.held == []
    assert guard.admit("Fresh", 2)


def test_no_probe_where_focus_cannot_be_read() -> None:
    assert open_focus_probe({}, "linux") is None
    assert open_focus_probe({"DISPLAY": ":0", "XDG_SESSION_TYPE": "wayland"}, "linux") is None
    assert open_focus_probe({"DISPLAY": ":0"}, "darwin") is None


def test_held_words_survive_the_next_dictation_until_taken() -> None:
    guard = FocusGuard()
    guard.begin(1)
    guard.admit("Kept", 2)
    guard.begin(1)  # the user dictates again before typing or copying them
    assert guard.admit("New", 1)
    assert guard.held_text() == "Kept"
    guard.admit(" words", 3)
    assert guard.take_held() == "Kept words"
    assert guard.take_held() == ""


def test_scratch_deletes_what_was_typed_while_focus_stays() -> None:
    guard = FocusGuard()
    guard.begin(7)
    guard.admit("Hello", 7)
    guard.admit(" world", 7)
    assert guard.admit_delete(6, 7) == 6
    assert guard.admit_delete(99, 7) == 5  # never more than this dictation typed


def test_scratch_after_focus_moved_deletes_nothing_in_the_window() -> None:
    guard = FocusGuard()
    guard.begin(7)
    guard.admit("Hello", 7)
    assert guard.admit_delete(5, 9) == 0
    guard.begin(7)
    guard.admit("Hello", 7)
    assert not guard.admit(" there", 9)
    assert guard.admit_delete(len(" there") + 5, 7) == 0  # the held words lose theirs only
    assert guard.held == []
    assert guard.take_held() == ""


def test_scratch_trims_held_words_first() -> None:
    guard = FocusGuard()
    guard.begin(7)
    guard.admit("Keep", 7)
    assert not guard.admit(" this and", 9)
    assert not guard.admit(" that", 9)
    assert guard.admit_delete(len(" and that"), 9) == 0
    assert guard.take_held() == " this"


def test_a_new_dictation_cannot_delete_the_last_ones_text() -> None:
    guard = FocusGuard()
    guard.begin(7)
    guard.admit("Earlier", 7)
    guard.begin(7)
    assert guard.admit_delete(7, 7) == 0
