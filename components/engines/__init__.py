"""The engines wing: what runs in the pods, as data, and the registry of engines.

Owns: finding every engine module of this package by itself (a module is an
engine when it exports ``PLUGIN``, an :class:`~components.engines.model.EnginePlugin`),
and choosing the stack's. Does not: create anything.
Invariant: adding an engine is adding a module here; nothing else lists them.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil

from components.engines.https_front import with_https_front
from components.engines.model import Engine, EnginePlugin
from components.engines.spark import with_spark
from components.ground.project import DEFAULTS
from components.ground.settings import WorkloadSettings


@functools.cache
def plugins() -> dict[str, EnginePlugin]:
    """Every engine, by the ``engine`` value that selects it: the default first, then by name."""
    found: dict[str, EnginePlugin] = {}
    for module in pkgutil.iter_modules(__path__):
        plugin = getattr(importlib.import_module(f"{__name__}.{module.name}"), "PLUGIN", None)
        if isinstance(plugin, EnginePlugin):
            if plugin.name in found:
                raise ValueError(f"two engine modules are named {plugin.name!r}")
            found[plugin.name] = plugin
    default = DEFAULTS.get("engine")
    return dict(sorted(found.items(), key=lambda item: (item[0] != default, item[0])))


def engine_for(settings: WorkloadSettings) -> Engine:
    """The stack's engine, with Spark beside it (``spark``); with a public door (``domain``,
    ``hubDomain``), behind the HTTPS front."""
    return with_https_front(with_spark(plugins()[settings.engine].build(settings), settings), settings)
