"""Run by ``test_kill.py`` in a subprocess, to be SIGKILLed at a random moment: syncs one
binding of a LocalStore with a calendar.

Usage, from the ``tests`` directory: ``python -m store._kill_child STORE FOLDER URL USER
PASSWORD``. Connects, prints
``ready``, waits for a line on its standard input (the test makes its changes meanwhile),
syncs, and prints ``done <seconds>`` when the sync finished (if it lives that long).
"""

from __future__ import annotations

import sys
import time

from openprotocols.backends.caldav import CalDAVBackend
from openprotocols.store import LocalStore
from openprotocols.testing.servers import dav_account

from ._servers import dav_network


def main(store_path: str, folder: str, url: str, user: str, password: str) -> None:
    with CalDAVBackend(dav_account(url, user, password), network=dav_network()) as backend:
        backend.open()
        with LocalStore(store_path) as store:
            binding = store.binding(folder, backend)
            print("ready", flush=True)
            sys.stdin.readline()
            start = time.monotonic()
            report = binding.sync()
            assert report.ok, report.errors
            print(f"done {time.monotonic() - start:.3f}", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
