"""``kyutai-dictate engine`` as a user runs it: a real process loading a checkpoint directory."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
from websockets.asyncio.client import connect

from server.protocol import moshi
from tests.engine.test_engine_protocol import next_message

READY = "engine listening on "


async def test_the_engine_command_serves_a_checkpoint_with_the_key_from_the_environment(
    tiny_checkpoint: Path,
) -> None:
    env = {**os.environ, "KYUTAI_DICTATE_ENGINE_API_KEY": "sesame", "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "app", "engine", "--checkpoint", str(tiny_checkpoint)]
    process = await asyncio.create_subprocess_exec(
        *command, "--port", "0", "--device", "cpu", env=env, stdout=subprocess.PIPE
    )
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), 100)).decode()
        assert line.startswith(READY), line
        url = line.removeprefix(READY).strip()
        async with connect(url, additional_headers={moshi.API_KEY_HEADER: "sesame"}) as ws:
            assert await next_message(ws) == moshi.Ready()
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), 10)


@pytest.mark.parametrize("what", ["no config", "no weights"])
def test_a_bad_checkpoint_gets_a_clear_error(
    tiny_checkpoint: Path, tmp_path: Path, what: str
) -> None:
    if what == "no weights":
        (tmp_path / "config.json").write_text((tiny_checkpoint / "config.json").read_text())
    result = subprocess.run(
        [sys.executable, "-m", "app", "engine", "--checkpoint", str(tmp_path), "--port", "0"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2
    expected = "no config.json" if what == "no config" else "missing model.safetensors"
    assert expected in result.stderr
    assert "Traceback" not in result.stderr


def test_asking_for_a_gpu_that_torch_does_not_see_is_a_clear_error(tiny_checkpoint: Path) -> None:
    command = [sys.executable, "-m", "app", "engine", "--checkpoint", str(tiny_checkpoint)]
    result = subprocess.run(
        [*command, "--device", "cuda", "--port", "0"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2
    assert "--device cuda: torch sees no CUDA GPU" in result.stderr
    assert "Traceback" not in result.stderr
