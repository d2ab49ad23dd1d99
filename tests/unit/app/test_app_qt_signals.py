"""Qt and asyncio on one thread: the bridge every thread edge relies on must hold up.

The microphone, the hotkey listener and the typing worker hand their data to the loop with
``call_soon_threadsafe``; under qasync that is one Qt signal per call. PySide6 6.12.0
mis-counted references in ``Signal.emit`` and aborted the process after a few hundred
calls: this runs far more than a dictation makes, in a child process so a crash shows as
a failure rather than taking pytest down.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

CHILD = textwrap.dedent(
    """
    import asyncio, threading
    from PySide6.QtWidgets import QApplication
    from qasync import QEventLoop

    app = QApplication([])
    loop = QEventLoop(app)
    asyncio.set_event_loop(loop)
    received = []

    async def main():
        def worker():
            for i in range(5000):
                loop.call_soon_threadsafe(received.append, (b"frame", i, True))
        thread = threading.Thread(target=worker)
        thread.start()
        while thread.is_alive() or len(received) < 5000:
            await asyncio.sleep(0.01)
        print(len(received), received[-1][1])

    with loop:
        loop.run_until_complete(main())
    """
)


def test_thousands_of_cross_thread_calls_arrive_in_order_without_crashing() -> None:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run(
        [sys.executable, "-c", CHILD],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["5000", "4999"]
