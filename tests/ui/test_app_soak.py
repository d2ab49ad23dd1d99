"""Soak: dictation after dictation through one run of the app (tests/support/app_soak.py);
its memory, open files and threads, and the history's file, stay flat. A short run here; the
long one (1,000 dictations) runs with ``pytest -m soak``."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.app_soak import Sample, soak

RSS_GROWTH_LIMIT_MIB = 16.0  # from the first sample after warm-up to the last
HISTORY_KIB_PER_DICTATION = 1.0  # its row: a text (the audio has a table of its own)
LONG_SOAK = int(os.environ.get("KYUTAI_DICTATE_APP_SOAK_DICTATIONS", "1000"))


def assert_flat(samples: list[Sample], warm: int) -> None:
    for row in samples:
        print(row)
    first = next(row for row in samples if row.dictations >= warm)
    last = samples[-1]
    assert last.rss_mib - first.rss_mib < RSS_GROWTH_LIMIT_MIB, samples
    assert last.fds <= first.fds, samples
    assert last.threads <= first.threads, samples
    per_dictation = (last.rows_kib - first.rows_kib) / (last.dictations - first.dictations)
    assert per_dictation < HISTORY_KIB_PER_DICTATION, samples


async def test_forty_dictations_keep_memory_fds_and_threads_flat(tmp_path: Path) -> None:
    samples = await soak(tmp_path, 95, 40, 10, lambda _: None, audio_count=5)
    assert [row.dictations for row in samples] == [0, 10, 20, 30, 40]
    assert_flat(samples, warm=10)


@pytest.mark.soak
@pytest.mark.timeout(3600)
async def test_a_thousand_dictations_keep_memory_fds_threads_and_the_history_flat(
    tmp_path: Path,
) -> None:
    samples = await soak(tmp_path, 95, LONG_SOAK, 50, print)
    assert_flat(samples, warm=100)  # the audio of the newest 50 is kept from dictation 50
