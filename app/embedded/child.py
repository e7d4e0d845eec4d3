"""`python -m app.embedded.child PARENT_PID [server options]`: the embedded server as the
child process of the API that started it (app/db.py). It stops, persisting its data file,
when that parent exits, however the parent ended (even by SIGKILL, which runs no clean-up):
an orphaned store would keep the port and the data file's journal."""

from __future__ import annotations

import os
import signal
import sys
import threading

from app.embedded.server import main

PARENT_POLL_SECONDS = 0.5


def stop_with_parent(parent: int) -> None:
    """A dead parent's children are adopted by another process, which changes getppid()."""
    while os.getppid() == parent:
        threading.Event().wait(PARENT_POLL_SECONDS)
    os.kill(os.getpid(), signal.SIGTERM)  # the server's own clean stop


if __name__ == "__main__":
    watch = threading.Thread(target=stop_with_parent, args=(int(sys.argv[1]),), daemon=True)
    watch.start()
    sys.exit(main(sys.argv[2:]))
