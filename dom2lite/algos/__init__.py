"""Offline multi-agent algorithms behind one interface (:class:`OfflineAlgorithm`) and one registry.

=========  ===========================  ==============================================================
name       class                        what it is
=========  ===========================  ==============================================================
``bc``     :class:`BC`                  behaviour cloning (deterministic, MSE)
``td3bc``  :class:`TD3BC`               MA-TD3+BC (Fujimoto & Gu 2021) per agent
``cql``    :class:`MACQL`               MA-CQL: CQL(H) twin critics + TD3-style actors (OMAR's baseline)
``omar``   :class:`OMAR`                MA-CQL critics + zeroth-order actor rectification (Pan et al. 2022)
``dom2``   ``dom2lite.algos.dom2.DOM2``  diffusion actors + conservative critics (chapter 07)
=========  ===========================  ==============================================================

``make_algo(name, spec, config=None, device=None)`` builds one; ``config_for(name, task, quality,
**overrides)`` resolves its hyper-parameters from the preset table (:mod:`dom2lite.algos.config`).
Names are case-insensitive and accept the papers' spellings ("MA-TD3+BC", "MA-CQL").
Explained in chapter 05 (conservatism).
"""

from __future__ import annotations

import importlib

from dom2lite.algos.actor_critic import ActorCritic
from dom2lite.algos.base import OfflineAlgorithm
from dom2lite.algos.bc import BC
from dom2lite.algos.config import (
    CALIBRATED,
    PER_DATASET,
    PRESETS,
    ActorCriticConfig,
    AlgoConfig,
    BCConfig,
    CQLConfig,
    DOM2Config,
    OMARConfig,
    TD3BCConfig,
    resolve_config,
)
from dom2lite.algos.cql import MACQL
from dom2lite.algos.omar import OMAR
from dom2lite.algos.td3bc import TD3BC
from dom2lite.errors import ConfigError

# name -> class, or "module:Class" for algorithms imported on first use (DOM2 lives in its own module).
ALGOS: dict[str, type | str] = {
    "bc": BC,
    "td3bc": TD3BC,
    "cql": MACQL,
    "omar": OMAR,
    "dom2": "dom2lite.algos.dom2:DOM2",
}


def canonical_name(name: str) -> str:
    """``"MA-TD3+BC"`` -> ``"td3bc"``, ``"MA-CQL"`` -> ``"cql"``, ``"OMAR"`` -> ``"omar"``."""
    key = name.strip().lower().replace("+", "").replace("-", "").replace("_", "")
    if key.startswith("ma") and key[2:] in ALGOS:
        key = key[2:]
    if key not in ALGOS:
        raise ConfigError("algo", f"unknown algorithm {name!r}; choose from {sorted(ALGOS)}")
    return key


def register_algo(name: str, cls: type | str) -> None:
    """Add an algorithm (a class, or ``"module:Class"`` imported on first use) to the registry."""
    ALGOS[name.lower()] = cls


def algo_class(name: str) -> type:
    """The class registered under ``name`` (importing it if needed)."""
    key = canonical_name(name)
    entry = ALGOS[key]
    if isinstance(entry, str):
        module, attr = entry.split(":")
        try:
            entry = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as err:
            raise ConfigError("algo", f"algorithm {key!r} is registered as {ALGOS[key]!r} but cannot be "
                                      f"imported: {err}") from err
        ALGOS[key] = entry
    return entry


def config_for(algo: str, task: str | None = None, quality: str | None = None, **overrides):
    """The resolved config of ``algo`` for ``task`` (and data-set ``quality``); ``overrides`` win.

    ``config_for("omar", "tag", "medium", seed=3)`` -> ``OMARConfig(...)`` with OMAR's MPE values,
    ``omar_coe=0.7, cql_alpha=5.0`` from OMAR's per-data-set table, and ``seed=3``.
    """
    cls = algo_class(algo)
    return resolve_config(cls.config_class, canonical_name(algo), task, quality, **overrides)


def make_algo(name: str, spec, config=None, device=None) -> OfflineAlgorithm:
    """Build algorithm ``name`` for environment ``spec`` (config: dataclass, dict of fields, or None)."""
    return algo_class(name)(spec, config, device)


__all__ = [
    "ALGOS",
    "BC",
    "CALIBRATED",
    "MACQL",
    "OMAR",
    "PER_DATASET",
    "PRESETS",
    "TD3BC",
    "ActorCritic",
    "ActorCriticConfig",
    "AlgoConfig",
    "BCConfig",
    "CQLConfig",
    "DOM2Config",
    "OMARConfig",
    "OfflineAlgorithm",
    "TD3BCConfig",
    "algo_class",
    "canonical_name",
    "config_for",
    "make_algo",
    "register_algo",
]
