"""Random walks of a binding against real servers: the state machine's scenarios
(``tests/sync/test_machine.py``) end to end on Radicale, Xandikos and Dovecot.

A walk makes random changes on both sides of a binding, a few at a time, and syncs after
each step: creates, edits and deletes in the store and by another client on the server
(the same item edited on both sides, an edit against a delete, both sides deleting it);
a server rewriting an item with nothing changed but what does not count (a new
``DTSTAMP`` or ``REV``: a new ETag; for IMAP a flag set and cleared again: a new
mod-sequence); an expired sync token (DAV) or a mailbox deleted and recreated with the
same messages (IMAP: a new UIDVALIDITY); and a server emptied by the other client, which
the guard stops until the sync is confirmed, after which deleted items are restored
from the history.

After every sync: both sides hold the same items, no UID twice on either side; every
version either side held before the sync is current on a side, in the history or in
the conflict queue; a sync after churn alone writes nothing; and, every few steps, two
more syncs are quiet. ``tests/store/test_kill.py`` kills syncs; the scripted scenarios
are in ``test_servers.py``.

``OPENPROTOCOLS_WALK_STEPS`` sets the steps of a walk (default 30);
``OPENPROTOCOLS_WALK_SEED`` its seed. By default a walk explores (a random seed, printed
when it fails), but in CI (``CI`` set) it takes the same seed every time, as hypothesis
takes the same examples there (``tests/conftest.py``): a landing never depends on luck.
"""

from __future__ import annotations

import os
import random
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from openprotocols.backends._dav import DavBackend
from openprotocols.backends.caldav import CalDAVBackend
from openprotocols.backends.carddav import CardDAVBackend
from openprotocols.backends.imap import IMAPBackend
from openprotocols.errors import MassChangeError
from openprotocols.model import FolderKind, Message
from openprotocols.store import Binding, LocalStore
from openprotocols.sync import Guard, Side, SyncReport
from openprotocols.testing.servers import (
    DovecotServer,
    RadicaleServer,
    TestCA,
    XandikosServer,
    dav_account,
)

from ._servers import CALENDAR, VCARD, OtherClient, dav_network, ics, vcf
from .test_servers import (
    OtherImap,
    _mail_title,
    _title,
    backend_item,
    delete_locally,
    edit_flags,
    edit_locally,
    expire_remote_state,
    imap_mailbox,
    mail,
    mid,
    titles,
    unique,
)

STEPS = int(os.environ.get("OPENPROTOCOLS_WALK_STEPS", "30"))
ITEMS = 12
QUIET_EVERY = 4
FOLDER = "walk"

Version = tuple[str, str]
"""(UID or Message-ID, title): a version of an item, as the walk names it."""


@pytest.fixture
def seed() -> int:
    default = 20261122 if os.environ.get("CI") else random.randrange(1 << 32)
    return int(os.environ.get("OPENPROTOCOLS_WALK_SEED", default))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[LocalStore]:
    with LocalStore(tmp_path / "store.sqlite") as local:
        yield local


@attrs.define
class Walk:
    """What every walk shares: the store, the binding, the dice and the checks."""

    rng: random.Random
    store: LocalStore
    binding: Binding
    server: Callable[[], dict[str, str]]
    title_of: Callable[[Any], str]
    log: list[str] = attrs.Factory(list)
    counter: int = 0

    def fresh(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix} {self.counter}"

    def pick(self, found: dict[str, str], count: int = 1) -> list[str]:
        return self.rng.sample(sorted(found), min(count, len(found)))

    def sync(self, *, quiet_after: bool = False, confirm: bool = False) -> SyncReport:
        """Sync, and check what must hold after it."""
        held = {Side.LOCAL: titles(self.binding), Side.REMOTE: self.server()}
        before = set(held[Side.LOCAL].items()) | set(held[Side.REMOTE].items())
        try:
            report = self.binding.sync(confirm=confirm)
        except MassChangeError as exc:
            self.check_stop(exc, held)
            report = self.binding.sync(confirm=True)  # the user confirms
        assert report.ok, report.errors
        local = titles(self.binding)
        assert local == self.server(), "the two sides differ"
        missing = before - set(local.items()) - self.kept()
        assert not missing, f"versions lost: {sorted(missing)}"
        if quiet_after:
            for _ in range(2):
                again = self.binding.sync()
                assert again.ok, again.errors
                assert (again.writes, again.conflicts) == (0, 0), "a quiet sync wrote"
        return report

    def check_stop(self, exc: MassChangeError, held: dict[Side, dict[str, str]]) -> None:
        """The guard stopped a sync: with a reason (the other side held nothing, or the
        deletes passed the minimum), and before writing anything."""
        source = Side(exc.side).other
        assert not held[source] or exc.deletions > Guard().minimum, exc
        assert held == {Side.LOCAL: titles(self.binding), Side.REMOTE: self.server()}

    def kept(self) -> set[Version]:
        """The versions in the history and the conflict queue."""
        found = {
            (str(e.uid), self.title_of(e.item)) for e in self.store.history(FOLDER, limit=1_000_000)
        }
        found |= {(str(c.uid), self.title_of(c.item)) for c in self.store.conflicts(FOLDER)}
        return found

    def wipe_and_restore(self, wipe: Callable[[], None]) -> None:
        """The other client deletes every item on the server: beyond the guard's
        minimum the guard stops the sync until it is confirmed (fewer deletes, reported
        one by one, go through); the store is emptied, every version in the history, and
        restored versions go back to the server."""
        held = titles(self.binding)
        wipe()
        if len(held) > Guard().minimum:
            with pytest.raises(MassChangeError) as stopped:
                self.binding.sync()
            assert stopped.value.side == str(Side.LOCAL)
            assert titles(self.binding) == held, "the guard let a deletion through"
        self.sync(confirm=True)
        assert titles(self.binding) == {}
        newest: dict[str, Any] = {}
        for entry in self.store.history(FOLDER, limit=1_000_000):  # newest first
            if entry.reason == "deleted" and entry.uid in held:
                newest.setdefault(str(entry.uid), entry)
        assert newest.keys() == held.keys(), "a deleted item is not in the history"
        for uid in self.pick(held, 3):
            self.store.restore(newest[uid])
        self.sync()
        assert len(titles(self.binding)) == min(3, len(held))

    def steps(
        self, steps: dict[str, Callable[[], bool]], wipe: Callable[[], None]
    ) -> dict[str, Callable[[], bool]]:
        """``steps``, and in half the walks a step that wipes the server with ``wipe``
        (:meth:`wipe_and_restore`; it leaves three items, so it is not in every walk)."""

        def wiped() -> bool:
            if titles(self.binding):
                self.wipe_and_restore(wipe)
            return False

        return steps | {"wiped": wiped} if self.rng.random() < 0.5 else steps

    def run(self, steps: dict[str, Callable[[], bool]]) -> None:
        """``STEPS`` random steps; a step returns whether it changed only what does
        not count (then the sync must write nothing)."""
        names = sorted(steps)
        for number in range(STEPS):
            name = self.rng.choice(names)
            self.log.append(name)
            churn_only = steps[name]()
            report = self.sync(quiet_after=number % QUIET_EVERY == QUIET_EVERY - 1)
            if churn_only:
                assert (report.writes, report.conflicts) == (0, 0), "churn was copied"


# -- DAV ----------------------------------------------------------------------------------


@attrs.frozen
class DavKind:
    backend: type[DavBackend]
    kind: FolderKind
    content_type: str
    make: Callable[[str, str], bytes]
    suffix: str


DAV_KINDS = {
    "calendar": DavKind(CalDAVBackend, FolderKind.CALENDAR, CALENDAR, ics, ".ics"),
    "contacts": DavKind(CardDAVBackend, FolderKind.CONTACTS, VCARD, vcf, ".vcf"),
}


def _churned(data: bytes, stamp: str) -> bytes:
    """The same item with only its DTSTAMP (an event) or REV (a contact) changed."""
    if b"BEGIN:VEVENT" in data:
        return re.sub(rb"DTSTAMP:[^\r\n]*", f"DTSTAMP:{stamp}".encode(), data, count=1)
    data = re.sub(rb"REV:[^\r\n]*\r\n", b"", data)
    return data.replace(b"END:VCARD", f"REV:{stamp}\r\nEND:VCARD".encode(), 1)


@pytest.mark.parametrize(
    ("server_name", "kind_name"), [("radicale", "calendar"), ("xandikos", "contacts")]
)
def test_dav_random_walk(
    server_name: str, kind_name: str, store: LocalStore, seed: int, request: pytest.FixtureRequest
) -> None:
    if server_name == "radicale":
        radicale: RadicaleServer = request.getfixturevalue("radicale")
        url, user, password = radicale.url, "alice", "secret"
    else:
        xandikos: XandikosServer = request.getfixturevalue("xandikos")
        url, user, password = xandikos.url, None, None
    spec = DAV_KINDS[kind_name]
    other = OtherClient(url, user, password)
    backend = spec.backend(dav_account(url, user, password), network=dav_network())
    with backend:
        backend.open()
        folder = backend.create_folder(unique("walk"), spec.kind)
        try:
            walk = _dav_walk(random.Random(seed), store, backend, other, folder.id, spec)
            try:
                walk.sync(quiet_after=True)
                assert len(titles(walk.binding)) == ITEMS
                walk.run(_dav_steps(walk, store, other, folder.id, spec))
            except BaseException as exc:
                exc.add_note(f"seed {seed} (OPENPROTOCOLS_WALK_SEED); steps {walk.log}")
                raise
        finally:
            backend.delete_folder(folder)


def _dav_walk(
    rng: random.Random,
    store: LocalStore,
    backend: DavBackend,
    other: OtherClient,
    href: str,
    spec: DavKind,
) -> Walk:
    for n in range(ITEMS):
        other.put(f"{href}item-{n}{spec.suffix}", spec.make(f"item-{n}", f"Item {n}"),
                  spec.content_type)  # fmt: skip
    store.create_folder(FOLDER, spec.kind)
    binding = store.bind(FOLDER, backend, href)

    def server() -> dict[str, str]:
        return {uid: r.title for uid, r in other.resources(href, spec.content_type).items()}

    return Walk(rng, store, binding, server, _title)


def _dav_steps(
    walk: Walk, store: LocalStore, other: OtherClient, href: str, spec: DavKind
) -> dict[str, Callable[[], bool]]:
    binding = walk.binding

    def resources() -> dict[str, Any]:
        return other.resources(href, spec.content_type)

    def local_changes() -> bool:
        local = titles(binding)
        for _ in range(walk.rng.randint(1, 3)):
            action = walk.rng.choice(["create", "edit", "delete"] if local else ["create"])
            if action == "create":
                binding.local.create(backend_item(spec.kind, walk.fresh("Local")))
            elif action == "edit":
                (uid,) = walk.pick(local)
                edit_locally(binding, uid, walk.fresh("Edited locally"))
            else:
                (uid,) = walk.pick(local)
                delete_locally(binding, uid)
                del local[uid]
        return False

    def server_changes() -> bool:
        for _ in range(walk.rng.randint(1, 3)):
            found = resources()
            action = walk.rng.choice(["create", "edit", "delete"] if found else ["create"])
            if action == "create":
                uid = unique("there")
                other.put(f"{href}{uid}{spec.suffix}", spec.make(uid, walk.fresh("There")),
                          spec.content_type)  # fmt: skip
            elif action == "edit":
                (uid,) = walk.pick(found)
                now = found[uid]
                other.put(now.href, spec.make(uid, walk.fresh("Edited there")),
                          spec.content_type, etag=now.etag)  # fmt: skip
            else:
                (uid,) = walk.pick(found)
                other.delete(found[uid].href, found[uid].etag)
        return False

    def both_sides() -> bool:
        """One item touched on both sides: edit/edit, edit/delete, delete/edit or
        delete/delete."""
        found = resources()
        if not found:
            return server_changes()
        (uid,) = walk.pick(found)
        mine, theirs = walk.rng.choice(["edit", "delete"]), walk.rng.choice(["edit", "delete"])
        if mine == "edit":
            edit_locally(binding, uid, walk.fresh("Mine"))
        else:
            delete_locally(binding, uid)
        now = found[uid]
        if theirs == "edit":
            other.put(now.href, spec.make(uid, walk.fresh("Theirs")), spec.content_type,
                      etag=now.etag)  # fmt: skip
        else:
            other.delete(now.href, now.etag)
        return False

    def churn() -> bool:
        found = resources()
        for uid in walk.pick(found, 2):
            now = found[uid]
            stamp = f"20261122T{walk.counter % 24:02}0000Z"
            walk.counter += 1
            other.put(now.href, _churned(now.data, stamp), spec.content_type, etag=now.etag)
        return bool(found)

    def expired_token() -> bool:
        expire_remote_state(store, FOLDER)
        return local_changes() if walk.rng.random() < 0.5 else server_changes()

    def wipe() -> None:
        for resource in resources().values():
            other.delete(resource.href, resource.etag)

    return walk.steps(
        {
            "local changes": local_changes,
            "server changes": server_changes,
            "both sides": both_sides,
            "churn": churn,
            "expired token": expired_token,
        },
        wipe,
    )


# -- IMAP ---------------------------------------------------------------------------------


@pytest.fixture
def imap_walk(dovecot: DovecotServer, test_ca: TestCA) -> Iterator[tuple[IMAPBackend, OtherImap]]:
    with imap_mailbox(dovecot, test_ca, whole=True) as found:
        yield found


FLAGS = ("\\Seen", "\\Flagged", "\\Answered", "$Label1")


def test_imap_random_walk(
    imap_walk: tuple[IMAPBackend, OtherImap], store: LocalStore, seed: int
) -> None:
    backend, other = imap_walk
    rng = random.Random(seed)
    for n in range(ITEMS):
        other.append(f"Mail {n}", mid(f"m{n}"), (b"\\Seen",) if n % 2 else ())
    store.create_folder(FOLDER, FolderKind.MAIL)
    binding = store.bind(FOLDER, backend, other.mailbox)
    walk = Walk(rng, store, binding, other.messages, _mail_title)
    try:
        walk.sync(quiet_after=True)
        assert len(titles(binding)) == ITEMS
        walk.run(_imap_steps(walk, other))
    except BaseException as exc:
        exc.add_note(f"seed {seed} (OPENPROTOCOLS_WALK_SEED); steps {walk.log}")
        raise


def _imap_steps(walk: Walk, other: OtherImap) -> dict[str, Callable[[], bool]]:
    binding = walk.binding

    def local_changes() -> bool:
        local = titles(binding)
        for _ in range(walk.rng.randint(1, 3)):
            action = walk.rng.choice(["create", "flag", "delete"] if local else ["create"])
            if action == "create":
                subject = walk.fresh("Local")
                content = mail(subject, mid(subject.replace(" ", "-")))
                binding.local.create(Message.new(content=content, flags=()))
            elif action == "flag":
                (key,) = walk.pick(local)
                edit_flags(binding, key, walk.rng.choice(FLAGS))
            else:
                (key,) = walk.pick(local)
                delete_locally(binding, key)
                del local[key]
        return False

    def server_changes() -> bool:
        for _ in range(walk.rng.randint(1, 3)):
            found = other.messages()
            action = walk.rng.choice(["append", "flag", "expunge"] if found else ["append"])
            if action == "append":
                subject = walk.fresh("There")
                other.append(subject, mid(subject.replace(" ", "-")))
            elif action == "flag":
                (key,) = walk.pick(found)
                other.add_flags(key, walk.rng.choice(FLAGS).encode())
            else:
                (key,) = walk.pick(found)
                other.expunge(key)
        return False

    def both_sides() -> bool:
        found = other.messages()
        if not found:
            return server_changes()
        (key,) = walk.pick(found)
        mine, theirs = walk.rng.choice(["flag", "delete"]), walk.rng.choice(["flag", "expunge"])
        if mine == "flag":
            edit_flags(binding, key, walk.rng.choice(FLAGS))
        else:
            delete_locally(binding, key)
        if theirs == "flag":
            other.add_flags(key, walk.rng.choice(FLAGS).encode())
        else:
            other.expunge(key)
        return False

    def churn() -> bool:
        """A flag set and cleared again: a new mod-sequence, the same flags."""
        found = other.messages()
        for key in walk.pick(found, 2):
            uid = other.uid_of(key)
            other.client.add_flags([uid], [b"$Churn"])  # a keyword no other step sets
            other.client.remove_flags([uid], [b"$Churn"])
        return bool(found)

    def recreated() -> bool:
        other.recreate()
        return False

    def wipe() -> None:
        for key in other.messages():
            other.expunge(key)

    return walk.steps(
        {
            "local changes": local_changes,
            "server changes": server_changes,
            "both sides": both_sides,
            "churn": churn,
            "recreated": recreated,
        },
        wipe,
    )
