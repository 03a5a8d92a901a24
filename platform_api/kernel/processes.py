"""Helper processes that must not outlive the process that started them."""

from __future__ import annotations

import os
import threading
import time


def exit_with_parent(parent: int) -> None:
    """Exit this process soon after ``parent`` (its parent's pid, given by the parent: the
    parent may be gone before this runs) is gone.

    For the initializer of a process pool's workers: a worker waits on a queue whose other
    end it holds itself, so after a ``kill -9`` of the parent nothing else would end it.
    Imports nothing heavy, so a spawned worker stays small.
    """

    def watch() -> None:
        while os.getppid() == parent:  # an orphan is adopted by another process
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()
