"""Fixtures for the CalDAV and CardDAV backend tests: both backends against both servers.

``dav_server`` is parametrised over Radicale (htpasswd user ``alice``) and Xandikos (no
authentication, plain HTTP only). Both listen on 127.0.0.1 over plain HTTP, so the
accounts' networks carry a consent callback that allows clear text to 127.0.0.1 only.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

import attrs
import niquests
import pytest

from openprotocols.backends.caldav import CalDAVBackend
from openprotocols.backends.carddav import CardDAVBackend
from openprotocols.model import Account, Endpoint
from openprotocols.network import ConsentKind, ConsentRequest, Network
from openprotocols.testing.servers import RadicaleServer, XandikosServer

SERVERS = ("radicale", "xandikos")


@attrs.frozen
class DavServer:
    """One running DAV server and how to reach it as a user."""

    name: str
    url: str
    username: str | None
    password: str | None
    principal_path: str
    data_dir: Path | None = None
    """Xandikos's storage directory (for :meth:`bulk_load`)."""

    def endpoint(self, protocol: str) -> Endpoint:
        """The account endpoint for ``protocol`` on this server."""
        host_port = self.url.split("//", 1)[1].rstrip("/")
        host, port = host_port.split(":")
        return Endpoint(
            protocol=protocol,
            host=host,
            port=int(port),
            security="none",
            username=self.username,
            password=self.password,
            auth="password" if self.password else "none",
            path="/",
        )

    def account(self) -> Account:
        """An account with a caldav and a carddav endpoint on this server."""
        return Account(
            email="alice@example.test",
            endpoints=[self.endpoint("caldav"), self.endpoint("carddav")],
        )

    def bulk_load(self, href: str, files: Mapping[str, bytes], content_type: str) -> None:
        """Store many items in the collection ``href`` quickly, as another client would.

        Item by item, a PUT costs 20-40 ms on either server (Radicale syncs each file to
        disk, Xandikos makes a git commit per PUT), 500 of them 10-25 s. So Radicale gets
        its bulk upload (one PUT of all items to the collection URL, which replaces its
        content) and Xandikos one git commit of all files into the collection's
        repository, which is how it stores items. Reading them back is what is tested.
        """
        if self.data_dir is None:
            body = b"".join(files.values())
            if content_type == "text/calendar":
                body = _one_calendar(files.values())
            with self.session() as session:
                reply = session.put(
                    self.url.rstrip("/") + href, data=body, headers={"Content-Type": content_type}
                )
            assert reply.status_code in (200, 201, 204), reply.text
            return
        from dulwich import porcelain

        directory = self.data_dir / href.strip("/")
        paths = []
        for name, data in files.items():
            (directory / name).write_bytes(data)
            paths.append(str(directory / name))
        porcelain.add(str(directory), paths=paths)
        porcelain.commit(str(directory), message=b"bulk", author=b"t <t@x>", committer=b"t <t@x>")

    def session(self) -> niquests.Session:
        """A plain session with this user's credentials (the out-of-band second client)."""
        session = niquests.Session()
        if self.password:
            session.auth = (self.username or "", self.password)
        return session


def _one_calendar(calendars: Iterable[bytes]) -> bytes:
    """One VCALENDAR holding the VEVENTs of several (Radicale's collection upload)."""
    head = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Other Client//EN\r\n"
    events = b"".join(
        b"BEGIN:VEVENT" + c.split(b"BEGIN:VEVENT", 1)[1].rsplit(b"END:VCALENDAR", 1)[0]
        for c in calendars
    )
    return head + events + b"END:VCALENDAR\r\n"


def allow_local_clear_text(request: ConsentRequest) -> bool:
    """Clear text to 127.0.0.1 only; nothing else."""
    return request.kind is ConsentKind.CLEAR_TEXT and request.host == "127.0.0.1"


def network() -> Network:
    """A network whose consent callback allows clear text to the local test servers."""
    return Network(consent=allow_local_clear_text)


@pytest.fixture(scope="session")
def _radicale_dav() -> Iterator[DavServer]:
    with RadicaleServer(users={"alice": "secret"}) as server:
        yield DavServer("radicale", server.url, "alice", "secret", "/alice/")


@pytest.fixture(scope="session")
def _xandikos_dav() -> Iterator[DavServer]:
    with XandikosServer() as server:
        yield DavServer(
            "xandikos", server.url, None, None, server.principal, server.workdir / "data"
        )


@pytest.fixture(params=SERVERS)
def dav_server(request: pytest.FixtureRequest) -> DavServer:
    """Each DAV server of the test bed in turn."""
    server: DavServer = request.getfixturevalue(f"_{request.param}_dav")
    return server


@pytest.fixture
def caldav_backend(dav_server: DavServer) -> Iterator[CalDAVBackend]:
    """An open CalDAV backend on ``dav_server``."""
    with CalDAVBackend(dav_server.account(), network=network()) as backend:
        backend.open()
        yield backend


@pytest.fixture
def carddav_backend(dav_server: DavServer) -> Iterator[CardDAVBackend]:
    """An open CardDAV backend on ``dav_server``."""
    with CardDAVBackend(dav_server.account(), network=network()) as backend:
        backend.open()
        yield backend
