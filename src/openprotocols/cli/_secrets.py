"""Where the command gets passwords from, and how it keeps them out of its output.

In order, for an endpoint of an account (the first that answers wins):

1. the keyring, if the optional ``keyring`` package is installed: the entry
   ``openprotocols`` / ``<email>:<protocol>``, then ``openprotocols`` / ``<email>``;
2. the endpoint's ``password_command``, then the account's;
3. a prompt (hidden input), asked once per account and run.

Nothing here writes a password anywhere but the keyring. Every password read is handed
to :class:`Redactor`, the logging filter of the command's log handlers, which replaces it
(and anything that looks like a credential in a protocol line) with ``********``.
"""

from __future__ import annotations

import logging
import re
import shlex
import subprocess
from collections.abc import Callable, Mapping
from typing import Any

from openprotocols.errors import ConfigurationError

__all__ = ["KEYRING_SERVICE", "Passwords", "Redactor", "keyring_module"]

KEYRING_SERVICE = "openprotocols"
MASK = "********"

# Protocol lines that carry credentials, in case a library logs one.
_PATTERNS = (
    re.compile(r"(?i)(authorization:\s*\w+\s+)\S+"),
    re.compile(r"(?i)(auth(?:enticate)?\s+(?:plain|login|xoauth2|oauthbearer)\s+)\S+"),
    re.compile(r"(?i)(\bpass(?:word)?\s*[=:]\s*)\S+"),
    re.compile(r"(\bLOGIN\s+\S+\s+)\S+"),  # IMAP: LOGIN user password
)


class Redactor(logging.Filter):
    """A logging filter that masks known secrets and credential-looking protocol lines."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def redact(self, text: str) -> str:
        """``text`` with every known secret and credential pattern masked."""
        for secret in sorted(self.secrets, key=len, reverse=True):
            text = text.replace(secret, MASK)
        for pattern in _PATTERNS:
            text = pattern.sub(lambda m: m.group(1) + MASK, text)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.redact(record.getMessage())
        record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = self.redact(logging.Formatter().formatException(record.exc_info))
        return True


def keyring_module() -> Any:
    """The ``keyring`` module, or ``None`` when it is not installed (it is optional)."""
    try:
        import keyring  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return None
    return keyring


def _run(command: str | list[str], what: str) -> str:
    argv = shlex.split(command) if isinstance(command, str) else [str(a) for a in command]
    if not argv:
        raise ConfigurationError(f"the password_command of {what} is empty")
    try:
        done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ConfigurationError(f"the password_command of {what} failed: {exc}") from exc
    if done.returncode != 0:
        raise ConfigurationError(
            f"the password_command of {what} exited with status {done.returncode}"
        )
    return done.stdout.rstrip("\r\n")


class Passwords:
    """Finds passwords for an account's endpoints (see the module documentation).

    :param prompt: asks the user (``text`` -> password); raises when no one can answer.
    """

    def __init__(self, redactor: Redactor, prompt: Callable[[str], str]) -> None:
        self.redactor = redactor
        self.prompt = prompt
        self._cache: dict[tuple[str, str], str] = {}

    def _remember(self, key: tuple[str, str], password: str) -> str:
        if password:
            self.redactor.secrets.add(password)
        self._cache[key] = password
        return password

    def get(
        self, email: str, protocol: str | None, table: Mapping[str, Any], *, own: bool = False
    ) -> str:
        """The password for ``protocol``'s endpoint of the account ``email`` (whose
        configuration table is ``table``); ``protocol=None`` for the account's own.
        Without a password of its own, an endpoint uses the account's, unless ``own``
        (SMTP with separate authentication): then the user is asked for it."""
        key = (email, protocol or "")
        if key in self._cache:
            return self._cache[key]
        found = self._lookup(email, protocol, table)
        if found is None and protocol is not None and not own:
            return self._remember(key, self.get(email, None, table))
        if found is None:
            found = self.prompt(f"Password for {email}" + (f" ({protocol})" if own else ""))
        return self._remember(key, found)

    def _lookup(self, email: str, protocol: str | None, table: Mapping[str, Any]) -> str | None:
        keyring = keyring_module()
        name = f"{email}:{protocol}" if protocol else email
        if keyring is not None:
            stored = keyring.get_password(KEYRING_SERVICE, name)
            if stored is not None:
                return str(stored)
        section = table.get(protocol, {}) if protocol else table
        command = section.get("password_command") if isinstance(section, Mapping) else None
        if command:
            return _run(command, f"{email} ({protocol})" if protocol else email)
        return None

    def provide(self, email: str, password: str) -> None:
        """Use ``password`` for the account in this run (typed by the user already)."""
        self._remember((email, ""), password)

    @staticmethod
    def store(email: str, password: str, protocol: str | None = None) -> bool:
        """Save the password in the keyring; ``False`` when there is no keyring."""
        keyring = keyring_module()
        if keyring is None:
            return False
        keyring.set_password(
            KEYRING_SERVICE, f"{email}:{protocol}" if protocol else email, password
        )
        return True

    @staticmethod
    def forget(email: str, protocols: list[str]) -> None:
        """Remove the account's keyring entries, if any."""
        keyring = keyring_module()
        if keyring is None:
            return
        for name in [email, *(f"{email}:{p}" for p in protocols)]:
            try:
                keyring.delete_password(KEYRING_SERVICE, name)
            except Exception:  # noqa: S112 - keyring.errors.PasswordDeleteError: none stored
                continue
