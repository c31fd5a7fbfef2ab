"""Public test helpers for backend and plugin authors.

- :class:`BackendContractTests` — the collection protocol as a test class to subclass;
- :mod:`openprotocols.testing.servers` — real servers (Radicale, Xandikos, Dovecot, pymap,
  aiosmtpd, dnsmasq, an HTTPS server with a test CA) started on 127.0.0.1 and stopped;
- :mod:`openprotocols.testing.pytest_plugin` — pytest fixtures for those servers
  (``pytest_plugins = ["openprotocols.testing.pytest_plugin"]``).

This package needs the ``test`` extra (``pip install openprotocols[test]``).
"""

from __future__ import annotations

from .contract import BackendContractTests

__all__ = ["BackendContractTests"]
