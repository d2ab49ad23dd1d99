"""Voice commands and your own words through the whole app: Xvfb, the hotkey pressed with
XTEST, the scripted ``/v1/stream`` server (exact words with exact ``start`` times) and a real
target window whose exact text is checked."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest

from app.core.voice_edits import Rule
from app.desktop import words_store
from tests.support.desktop import (
    Desktop,
    desktop,
    hotkey_held,
    read_text,
    running_app,
    target_window,
    text_in,
    until,
)
from tests.support.scripted_stream import scripted_stream


def spoken(text: str) -> list[str]:
    """The model's tokens for ``text``: each word with its leading space."""
    return [f" {word}" for word in text.split()]


# (words, starts, the text the window shows after it); each ends with "press enter", which
# puts the next dictation on a line of its own.
DICTATIONS: list[tuple[Sequence[str], Sequence[float], str]] = [
    (  # "new line" spoken apart
        [" hello", " new", " line", " world", " press", " enter"],
        [0.0, 1.0, 1.2, 2.0, 3.0, 3.2],
        "hello\nworld\n",
    ),
    (  # "new line" inside a sentence, without pauses: words
        [" a", " new", " line", " of", " products.", " press", " enter"],
        [0.0, 0.2, 0.4, 0.6, 0.8, 2.0, 2.2],
        "a new line of products.\n",
    ),
    (  # "scratch that" removes what came since the sentence end
        spoken("first sentence. second sentence scratch that third press enter"),
        [0.0, 0.3, 0.6, 0.9, 1.8, 2.0, 2.8, 4.0, 4.2],
        "first sentence. third\n",
    ),
    (  # a replacement spanning two words, its punctuation kept
        [" I", " like", " pie", " torch.", " press", " enter"],
        [0.0, 0.2, 0.4, 0.6, 1.8, 2.0],
        "I like PyTorch.\n",
    ),
    (  # French: "à la ligne", then "efface ça" removes the word after it
        [" bonjour", " à", " la", " ligne", " monde", " efface", " ça"],
        [0.0, 1.0, 1.2, 1.4, 2.2, 3.2, 3.4],
        "bonjour\n",
    ),
]


@pytest.fixture
def session(tmp_path: Path) -> AsyncIterator[Desktop]:
    with desktop(tmp_path / "home", 74) as d:
        words_store.save([Rule("pie torch", "PyTorch")], words_store.default_path(d.config))
        yield d  # type: ignore[misc]


async def test_commands_and_replacements_edit_the_window_exactly(
    session: Desktop, tmp_path: Path
) -> None:
    typed = tmp_path / "typed.txt"
    (first_words, first_starts, _), *rest = DICTATIONS
    later = [(words, starts) for words, starts, _ in rest]
    async with scripted_stream(
        first_words, frames_per_word=1, starts=first_starts, then=later
    ) as script:
        session.use_backend(script.url)
        async with target_window(session.env, typed), running_app(session) as app:
            expected, said = "", 0
            for words, _, text in DICTATIONS:
                said += len(words)
                mark = app.mark()
                async with hotkey_held(session, app):
                    await until(lambda n=said: len(script.sent_at) == n, message=app.output)
                await app.wait_for_line("dictation: idle", after=mark)
                expected += text
                assert await text_in(typed, expected) == expected, app.output


async def test_scratch_that_after_focus_moved_deletes_nothing(
    session: Desktop, tmp_path: Path
) -> None:
    fillers = [f" w{i}" for i in range(10)]
    words = [" first", " sentence.", " second", *fillers, " scratch", " that"]
    starts = [0.2 * i for i in range(3 + len(fillers))] + [5.0, 5.2]
    first, second = tmp_path / "first.txt", tmp_path / "second.txt"
    async with scripted_stream(words, frames_per_word=3, starts=starts) as script:
        session.use_backend(script.url)
        async with (
            target_window(session.env, second, "second window"),  # opened first: not focused
            target_window(session.env, first, "first window"),
            running_app(session) as app,
        ):
            async with hotkey_held(session, app):
                await until(lambda: "second" in read_text(first), message=app.output)
                second_id = session.xdotool("search", "--name", "second window").split()[0]
                session.xdotool("windowfocus", "--sync", second_id)
                await until(lambda: len(script.sent_at) == len(words), message=app.output)
            await app.wait_for_line("dictation: idle")
    assert read_text(first).startswith("first sentence. second")
    assert "scratch" not in read_text(first)
    assert read_text(second) == ""
