"""The public entry points that tie the layers together."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .plugins import default_plugin_manager

if TYPE_CHECKING:
    from .backends.base import Backend, TokenProvider
    from .model.accounts import Account
    from .network import Network
    from .plugins import PluginManager

__all__ = ["connect"]


def connect(
    account: Account,
    backend: str,
    *,
    network: Network | None = None,
    token_provider: TokenProvider | None = None,
    plugin_manager: PluginManager | None = None,
) -> Backend:
    """Connect ``account`` through the backend registered as ``backend``.

    The returned provider is open (logged in) and is a context manager that closes it::

        with openprotocols.connect(account, "memory") as provider:
            for folder in provider.list_folders():
                print(folder.display_name)

    :param network: how to reach the network (resolver, overrides, trust, timeouts,
        consent); the default trusts the system and asks no one for consent.
    :param token_provider: returns an OAuth2 access token for an endpoint whose ``auth``
        is ``oauth2`` (see :data:`~openprotocols.backends.base.TokenProvider`).
    :param plugin_manager: where to look ``backend`` up; by default the process-wide
        manager with every installed plugin.
    :raises ConfigurationError: no backend has that name, or the account lacks settings.
    :raises BackendError: connecting or logging in failed (see its subclasses).
    """
    manager = plugin_manager if plugin_manager is not None else default_plugin_manager()
    cls = manager.backends().get(backend)
    if token_provider is None:  # a plugin's backend may not take the argument
        provider = cls(account, network=network)
    else:
        provider = cls(account, network=network, token_provider=token_provider)
    try:
        provider.open()
    except BaseException:
        provider.close()
        raise
    return provider
