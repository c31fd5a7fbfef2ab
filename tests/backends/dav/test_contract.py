"""The CalDAV and CardDAV backends pass the collection-protocol contract on both servers."""

from __future__ import annotations

import pytest

from openprotocols.backends.caldav import CalDAVBackend
from openprotocols.backends.carddav import CardDAVBackend
from openprotocols.testing import BackendContractTests


class TestCalDAVContract(BackendContractTests):
    """Calendars and task lists on Radicale and Xandikos."""

    @pytest.fixture
    def backend(self, caldav_backend: CalDAVBackend) -> CalDAVBackend:
        """The open CalDAV backend of the parametrised server."""
        return caldav_backend


class TestCardDAVContract(BackendContractTests):
    """Address books on Radicale and Xandikos."""

    @pytest.fixture
    def backend(self, carddav_backend: CardDAVBackend) -> CardDAVBackend:
        """The open CardDAV backend of the parametrised server."""
        return carddav_backend
