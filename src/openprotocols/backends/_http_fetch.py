"""What the HTTP discovery providers (Autodiscover, autoconfig) share.

- :func:`fetch`: one HTTP request, never following redirects, the body read as a stream
  and cut off past a cap, every exception of niquests / urllib3 / the socket layer turned
  into a :class:`Failure` with an :class:`~openprotocols.backends.discovery.Outcome`;
- :func:`check_url`: is this a URL discovery may follow (``https``, a host, no user
  info, a valid port)?
- :class:`HostGate`: may this host be contacted, and may credentials go to it? Hosts
  inside the user's registrable domain may; any other host only after the consent
  callback said yes, asked once per host and discovery run;
- :class:`RedirectBudget`: at most ten redirects of any kind per discovery run.

Nothing here logs or returns a credential: reasons name URLs and status codes only.
"""

from __future__ import annotations

import base64
import logging
import re
import ssl
import urllib.parse
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

import attrs

from openprotocols._domains import is_domain_name, normalise_host, same_site
from openprotocols.backends.discovery import Outcome
from openprotocols.errors import ConsentRequired
from openprotocols.formats._xml import MAX_DOCUMENT
from openprotocols.network import ConsentKind, ConsentRequest

if TYPE_CHECKING:
    import niquests

    from openprotocols.model._base import Secret
    from openprotocols.network import Network

__all__ = [
    "MAX_REDIRECTS",
    "REDIRECT_STATUSES",
    "Failure",
    "Fetched",
    "HostGate",
    "RedirectBudget",
    "basic_authorization",
    "check_url",
    "fetch",
    "is_domain_name",
    "url_host",
]

log = logging.getLogger(__name__)

MAX_REDIRECTS = 10
"""Redirects of any kind (HTTP 3xx, XML redirects, SRV) followed per discovery run."""

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})

_CHUNK = 64 * 1024


@attrs.frozen
class Fetched:
    """An HTTP answer: status, the headers discovery needs, and the body (capped)."""

    url: str
    status: int
    location: str | None
    www_authenticate: str | None
    body: bytes


@attrs.frozen
class Failure:
    """A request that got no usable answer, as a trace outcome and a reason."""

    outcome: Outcome
    reason: str


def url_host(url: str) -> tuple[str, int]:
    """The normalised host and the port (default for the scheme) of ``url``."""
    parts = urllib.parse.urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return normalise_host(parts.hostname or ""), port


def check_url(url: str, *, scheme: str = "https") -> str:
    """Why ``url`` may not be followed (empty: it may).

    Refused: another scheme than ``scheme``, no host, user info (``user:pw@``), a bad port.
    """
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError:
        return "not a valid URL"
    if parts.scheme.lower() != scheme:
        return f"only {scheme}:// is followed, not {parts.scheme or 'a relative'} URL"
    if not parts.hostname:
        return "the URL has no host"
    if parts.username is not None or parts.password is not None:
        return "a URL with user information is not followed"
    if port == 0:
        return "port 0 is not a port"
    return ""


def basic_authorization(username: str, password: Secret) -> str:
    """The value of an ``Authorization: Basic`` header."""
    token = f"{username}:{password.reveal()}".encode()
    return "Basic " + base64.b64encode(token).decode("ascii")


def fetch(
    session: niquests.Session,
    method: str,
    url: str,
    *,
    data: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    limit: int = MAX_DOCUMENT,
) -> Fetched | Failure:
    """Send one request; never follow a redirect, never raise for a network failure.

    A body larger than ``limit`` is not read past the limit and is a :class:`Failure`
    (outcome ``ERROR``). A certificate or TLS failure is a :class:`Failure` too: there is
    no retry without verification.
    """
    import niquests
    from urllib3.exceptions import HTTPError as Urllib3Error

    sent = {"Accept-Encoding": "identity", **(headers or {})}
    try:
        response = session.request(
            method, url, data=data, headers=sent, allow_redirects=False, stream=True
        )
    except niquests.exceptions.SSLError as exc:
        return Failure(Outcome.ERROR, f"TLS failed: {_cause(exc)}")
    except niquests.exceptions.Timeout as exc:
        return Failure(Outcome.ERROR, f"timed out: {_cause(exc)}")
    except (niquests.exceptions.RequestException, Urllib3Error, OSError, ValueError) as exc:
        return Failure(Outcome.ERROR, f"request failed: {_cause(exc)}")
    try:
        return _read(response, url, limit)
    except niquests.exceptions.Timeout as exc:
        return Failure(Outcome.ERROR, f"timed out reading the answer: {_cause(exc)}")
    except (niquests.exceptions.RequestException, Urllib3Error, OSError, ValueError) as exc:
        return Failure(Outcome.ERROR, f"reading the answer failed: {_cause(exc)}")
    finally:
        response.close()


def _read(response: niquests.Response, url: str, limit: int) -> Fetched | Failure:
    """Read the body as a stream, stopping as soon as it passes ``limit``."""
    status = int(response.status_code or 0)
    length = response.headers.get("Content-Length")
    if length and length.isdigit() and int(length) > limit:
        return Failure(Outcome.ERROR, f"HTTP {status}: a body of {length} bytes exceeds {limit}")
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_content(_CHUNK):
        size += len(chunk)
        if size > limit:
            return Failure(Outcome.ERROR, f"HTTP {status}: the body exceeds {limit} bytes")
        chunks.append(chunk)
    return Fetched(
        url=url,
        status=status,
        location=response.headers.get("Location"),
        www_authenticate=response.headers.get("WWW-Authenticate"),
        body=b"".join(chunks),
    )


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and the exceptions behind it (causes, urllib3's ``reason``, wrapped args)."""
    seen: set[int] = set()
    todo = [exc]
    while todo:
        current = todo.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        inner = [current.__cause__, current.__context__, getattr(current, "reason", None)]
        inner += [arg for arg in current.args if isinstance(arg, BaseException)]
        todo += [e for e in inner if isinstance(e, BaseException)]


_OBJECT = re.compile(r"<[^<>]* object at 0x[0-9a-f]+>:? ?")


def _cause(exc: BaseException) -> str:
    """The most useful message of a chained network exception, on one line."""
    for inner in _chain(exc):
        if isinstance(inner, ssl.SSLCertVerificationError):
            return f"certificate verify failed: {inner.verify_message}"
    text = str(exc)
    for marker in ("(Caused by ", "Caused by "):
        if marker in text:
            text = text.split(marker, 1)[1].removesuffix(")")
            break
    text = _OBJECT.sub("", text)
    return " ".join(text.split())[:300] or type(exc).__name__


class RedirectBudget:
    """Counts redirects of any kind; the one past :data:`MAX_REDIRECTS` is refused."""

    def __init__(self, limit: int = MAX_REDIRECTS) -> None:
        self.limit = limit
        self.used = 0

    def take(self) -> bool:
        """Count one redirect; ``False`` (and nothing counted) when the budget is spent."""
        if self.used >= self.limit:
            return False
        self.used += 1
        return True

    @property
    def refusal(self) -> str:
        """The reason given for the refused redirect."""
        return f"redirect number {self.used + 1} refused: at most {self.limit} are followed"


class HostGate:
    """Which hosts one discovery run may talk to, and send credentials to.

    A host inside the registrable domain of ``domain`` (the user's own) is allowed. Any
    other host is allowed only when the consent callback of ``network`` agrees to a
    :class:`~openprotocols.network.ConsentRequest` of kind ``FOREIGN_HOST`` that names
    the host, the user's domain and where the redirect came from. The answer is
    remembered per host for the run, so the callback is asked at most once per host.
    """

    def __init__(self, network: Network, domain: str, *, protocol: str) -> None:
        self.network = network
        self.domain = normalise_host(domain)
        self.protocol = protocol
        self._answers: dict[str, bool] = {}

    @property
    def approved(self) -> frozenset[str]:
        """The foreign hosts the callback approved in this run."""
        return frozenset(host for host, yes in self._answers.items() if yes)

    def is_permitted(self, host: str) -> bool:
        """Whether ``host`` is the user's own or was approved (asks nobody)."""
        host = normalise_host(host)
        return same_site(host, self.domain) or self._answers.get(host, False)

    def permit(self, host: str, port: int | None, *, reason: str) -> str:
        """Why ``host`` may not be contacted (empty: it may); asks for consent if foreign."""
        host = normalise_host(host)
        if same_site(host, self.domain):
            return ""
        if host not in self._answers:
            request = ConsentRequest(
                kind=ConsentKind.FOREIGN_HOST,
                protocol=self.protocol,
                host=host,
                port=port,
                domain=self.domain,
                reason=reason,
            )
            try:
                self.network.require_consent(request)
            except ConsentRequired:
                self._answers[host] = False
            else:
                self._answers[host] = True
        if self._answers[host]:
            return ""
        return f"{host} is outside {self.domain} and the consent callback did not approve it"

    def may_send_credentials(self, url: str) -> bool:
        """Credentials go only over https to a permitted host (the run's rule, checked
        again right before an ``Authorization`` header is built)."""
        if check_url(url):
            return False
        host, _ = url_host(url)
        return self.is_permitted(host)
