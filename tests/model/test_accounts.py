"""Accounts, endpoints, secrets, folders and bindings."""

from __future__ import annotations

import attrs
import pytest

from openprotocols.errors import ConfigurationError
from openprotocols.model import (
    Account,
    Address,
    Binding,
    ConflictPolicy,
    Direction,
    Endpoint,
    Folder,
    FolderKind,
    FolderRole,
    Secret,
    Security,
    default_port,
)


def test_secret_never_shows_its_value() -> None:
    """repr/str of a Secret, and of an account holding one, hide the password."""
    endpoint = Endpoint(protocol="imap", host="mail.test", port=993, password="hunter2")
    account = Account(email="ann@example.test", endpoints=[endpoint])
    assert isinstance(endpoint.password, Secret)
    assert endpoint.password.reveal() == "hunter2"
    for text in (repr(account), str(account), repr(endpoint.password), str(endpoint.password)):
        assert "hunter2" not in text


@pytest.mark.parametrize(
    ("endpoint", "url"),
    [
        (Endpoint(protocol="imap", host="mail.test", port=993), "imaps://mail.test:993"),
        (
            Endpoint(protocol="imap", host="mail.test", port=143, security="starttls"),
            "imap://mail.test:143",
        ),
        (
            Endpoint(protocol="caldav", host="dav.test", port=8443, path="/dav/"),
            "https://dav.test:8443/dav/",
        ),
        (Endpoint(protocol="carddav", host="::1", security="none"), "http://[::1]"),
        (Endpoint(protocol="jsondir", path="/home/ann/pim"), "jsondir:/home/ann/pim"),
    ],
)
def test_endpoint_url(endpoint: Endpoint, url: str) -> None:
    """An endpoint renders as a URL without credentials (local ones as protocol:path)."""
    assert endpoint.url == url


@pytest.mark.parametrize("port", [0, 65536, -1])
def test_endpoint_port_range(port: int) -> None:
    """Ports outside 1..65535 are a ConfigurationError."""
    with pytest.raises(ConfigurationError, match="port"):
        Endpoint(protocol="imap", host="mail.test", port=port)


@pytest.mark.parametrize("email", ["", "ann", "@example.test", "ann@", "a nn@example.test"])
def test_account_email_is_checked(email: str) -> None:
    """Something that is not an address is refused."""
    with pytest.raises(ConfigurationError):
        Account(email=email)


def test_account_endpoints() -> None:
    """endpoint() finds the first of a protocol; with_endpoints() replaces by protocol."""
    imap = Endpoint(protocol="imap", host="old.test", port=993)
    smtp = Endpoint(protocol="smtp", host="smtp.test", port=587, security=Security.STARTTLS)
    account = Account(email="Ann@Example.TEST", display_name="Ann", endpoints=[imap, smtp])
    assert account.endpoint("smtp") is smtp
    assert (account.domain, account.address) == ("example.test", Address("Ann@Example.TEST", "Ann"))
    new_imap = attrs.evolve(imap, host="new.test")
    moved = account.with_endpoints([new_imap])
    assert moved.endpoints == (smtp, new_imap)
    assert account.endpoint("imap") is imap  # the original is unchanged
    with pytest.raises(ConfigurationError, match="no caldav endpoint"):
        account.endpoint("caldav")


@pytest.mark.parametrize(
    ("protocol", "security", "port"),
    [
        ("imap", Security.SSL, 993),
        ("imap", Security.STARTTLS, 143),
        ("pop3", "ssl", 995),
        ("smtp", Security.SSL, 465),
        ("smtp", Security.STARTTLS, 587),
        ("smtp", Security.NONE, 587),
        ("caldav", Security.SSL, 443),
        ("gopher", Security.SSL, None),
    ],
)
def test_default_port(protocol: str, security: Security | str, port: int | None) -> None:
    """Well-known ports by protocol and whether TLS is implicit."""
    assert default_port(protocol, security) == port


def test_folder_defaults_and_colour() -> None:
    """A folder's name and display name default from its id; colours are normalised."""
    folder = Folder.new("Work/Projects", "calendar", color="#3a87ad")
    assert (folder.name, folder.display_name, folder.kind) == (
        "Projects",
        "Projects",
        FolderKind.CALENDAR,
    )
    assert folder.color == "#3A87AD"
    assert folder.role is FolderRole.NONE
    assert Folder(id="x", kind="mail", color="rebeccapurple").color == "rebeccapurple"
    with pytest.raises(ValueError, match="diary"):
        Folder(id="x", kind="diary")


def test_binding_values() -> None:
    """Bindings take strings for their enums and default to two-way, keep-both."""
    binding = Binding(local_folder="Calendar", backend="caldav", collection="/cal/")
    assert (binding.direction, binding.conflict_policy) == (
        Direction.TWO_WAY,
        ConflictPolicy.KEEP_BOTH,
    )
    assert (
        Binding(local_folder="a", backend="b", collection="c", direction="download").direction
        is Direction.DOWNLOAD
    )
