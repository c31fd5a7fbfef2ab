"""The demo (``openprotocols.demo``) runs every step against its own servers, says what each
did, and leaves neither a process nor a file behind."""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from io import StringIO
from pathlib import Path

import pytest
from rich.console import Console

from openprotocols import demo
from openprotocols.testing.servers import ServerProcess, process_group_members

pytestmark = pytest.mark.servers

# One fragment of each step's result line, in step order: what the step found or did.
RESULTS = (
    "Radicale (CalDAV, CardDAV) on port",
    "3 messages in INBOX, 3 appointments (a weekly meeting with one occurrence moved and one "
    "cancelled), 3 tasks, 3 contacts",
    "autodiscover found imap mail.example.test:",
    "alice@example.test: imap, smtp from discovery",
    "imap: INBOX, Sent; caldav: Calendar, Tasks; carddav: Contacts; smtp: logged in",
    "store.sqlite",
    "Calendar → /alice/calendar/, Tasks → /alice/tasks/, Contacts → /alice/contacts/, "
    "Inbox → INBOX",
    "downloaded 3 calendar, 3 tasks, 3 contacts, 3 inbox items; the weekly meeting came with "
    "its moved and its cancelled occurrence",
    "here: completed 'Send the agenda'",
    "3 changes uploaded (Tasks, Contacts, Inbox), 2 downloaded (Calendar, Inbox); both sides agree",
    "the server's Room 7 is in place on both sides, the local Room 4 waits in store.conflicts()",
    "store.history() kept it, store.restore() brought it back, the next sync re-created it",
    "local folder Holiday (2 tasks) → new collection /alice/holiday/ (2 tasks)",
    "the SMTP server's copy has no Bcc header, the copy in Sent has 'Bcc: Carol Singer "
    "<carol@example.test>'",
)


TITLE = re.compile(r"[ 1-9][0-9]\. ")


@pytest.fixture
def server_pids(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The PIDs (and process groups) of every server process started meanwhile."""
    pids: list[int] = []
    start = ServerProcess.start

    def recording(self: ServerProcess) -> ServerProcess:
        started = start(self)
        assert self.pid is not None
        pids.append(self.pid)
        return started

    monkeypatch.setattr(ServerProcess, "start", recording)
    return pids


@pytest.fixture
def temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The system temporary directory, for the duration of the test."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return tmp_path


def run_demo(**options: bool) -> tuple[int, str]:
    out = StringIO()
    status = demo.run(console=Console(file=out, width=120), **options)
    return status, out.getvalue()


def steps(output: str) -> list[tuple[str, str]]:
    """Each step's title line and what follows it, with line breaks and runs of spaces
    as one space (rich wraps long lines at the console's width)."""
    found: list[tuple[str, str]] = []
    for line in output.splitlines():
        if TITLE.match(line):
            found.append((line, ""))
        elif found:
            title, text = found[-1]
            found[-1] = (title, " ".join([*text.split(), *line.split()]))
    return found


def test_every_step_works_and_nothing_is_left(server_pids: list[int], temp: Path) -> None:
    status, output = run_demo()
    assert status == 0, output
    found = steps(output)
    assert len(found) == len(demo.STEPS) == len(RESULTS)
    for number, (title, result, (line, text)) in enumerate(
        zip(demo.STEPS, RESULTS, found, strict=True), start=1
    ):
        assert line == f"{number:2}. {title}"
        assert "✓ " in text, f"step {number} failed: {text!r}"
        said = text.partition("✓ ")[2]  # details come before the result
        assert result in said, f"step {number}: {said!r}"
    assert "✗" not in output
    assert found[-1][1].endswith("servers stopped")
    assert "done in " in found[-1][1]
    # Radicale and pymap ran as processes; none of them, nor of their groups, is left.
    assert len(server_pids) == 2
    assert all(process_group_members(pid) == [] for pid in server_pids)
    assert list(temp.iterdir()) == []  # the demo's directory is gone, and nothing else made


def test_a_failing_step_stops_the_demo(
    server_pids: list[int], temp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self: object) -> str:
        raise demo.DemoFailure("the sample data went missing")

    monkeypatch.setattr(demo._Demo, "fill", broken)
    status, output = run_demo(keep=True)
    assert status == 1
    assert "✗ DemoFailure: the sample data went missing" in output
    assert "Traceback" in output
    assert "3. Discover" not in output
    flat = " ".join(output.split())
    assert flat.endswith("servers stopped")
    assert "failed in " in flat
    assert all(process_group_members(pid) == [] for pid in server_pids)
    (kept,) = temp.iterdir()  # kept as asked, with the servers' files
    assert f"Kept {kept}" in flat
    assert (kept / "ca" / "ca.pem").is_file()


def test_missing_test_bed_is_one_line(monkeypatch: pytest.MonkeyPatch, temp: Path) -> None:
    find_spec = demo.importlib.util.find_spec
    monkeypatch.setattr(
        demo.importlib.util,
        "find_spec",
        lambda name, *args: None if name == "pymap" else find_spec(name, *args),
    )
    status, output = run_demo()
    assert status == 2
    assert output == (
        "The demo needs pymap from the test extra: pip install 'openprotocols[test]' "
        "(in a checkout: ./scripts/demo)\n"
    )
    assert list(temp.iterdir()) == []


def test_runs_as_a_module() -> None:
    help_text = subprocess.run(
        [sys.executable, "-m", "openprotocols.demo", "--help"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    assert "--keep" in help_text
