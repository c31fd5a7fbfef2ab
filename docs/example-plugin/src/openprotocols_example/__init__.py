"""openprotocols-example: the ``jsondir`` backend, a complete example of a backend plugin.

The distribution declares this module in the ``openprotocols`` entry-point group::

    [project.entry-points.openprotocols]
    example = "openprotocols_example"

so :func:`openprotocols.get_plugin_manager` imports it and calls the hook below, which
adds the backend to the registry. The backend is in :mod:`.backend`, the JSON form of the
items in :mod:`.codec`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import openprotocols

from .backend import JsonDirBackend, JsonDirCollection

if TYPE_CHECKING:
    from openprotocols.plugins import BackendRegistry

__all__ = ["JsonDirBackend", "JsonDirCollection", "openprotocols_register_backends"]


@openprotocols.hookimpl
def openprotocols_register_backends(registry: BackendRegistry) -> None:
    """Register the ``jsondir`` backend."""
    registry.add(JsonDirBackend)
