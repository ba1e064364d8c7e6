"""Registries a builder can push to: a generated buildkitd config, and why a push would fail.

A docker-container builder runs BuildKit in its own container: its ``127.0.0.1`` is not this
machine's, and it knows nothing of the daemon's ``insecure-registries``. So a push to a local
registry fails (``dial tcp 127.0.0.1:5000: connect: connection refused``) unless the builder uses
the host network (``--driver-opt network=host``) and a buildkitd config marks the registry
``http = true``. mabgui creates docker-container builders that way by default (the daemon's
insecure registries carried over), and refuses a push that the chosen builder cannot make, naming
the fix. Drivers whose BuildKit sees the daemon's network and settings (``docker``) or that mabgui
cannot see into (``remote``, ``kubernetes``) are not judged.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import ipaddress
import os
import tempfile
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from mabgui.core import engine, log
from mabgui.core.buildx import Builder, BuildxError, CreateRequest, Node

_log = log.get("buildx")

CONFIG_NAME = "buildkitd.toml"


@dataclass(frozen=True)
class RegistryRule:
    """What a buildkitd config says about one registry host."""

    http: bool = False
    insecure: bool = False


@dataclass(frozen=True)
class RegistrySetup:
    """The registry part of a docker-container builder to create."""

    hosts: tuple[str, ...] = ()  # registries marked http/insecure in the generated config
    host_network: bool = False  # one of them is on loopback: BuildKit must share the host's
    config_text: str = ""  # the buildkitd.toml to pass ('' = none)

    def to_json(self) -> dict[str, Any]:
        return {"registries": list(self.hosts), "host_network": self.host_network}


# --- hosts ----------------------------------------------------------------------------------------


def _host_name(host: str) -> str:
    """``127.0.0.1:5000`` → ``127.0.0.1``; ``[::1]:5000`` → ``::1``."""
    if host.startswith("["):
        return host[1 : host.index("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def is_loopback(host: str) -> bool:
    """True for ``localhost``, ``127.x.x.x`` and ``::1``, with or without a port."""
    name = _host_name(host)
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def daemon_registry_hosts(insecure_registries: Iterable[str]) -> list[str]:
    """The named hosts among the daemon's insecure registries (a config cannot name a CIDR)."""
    return [r for r in insecure_registries if r and "/" not in r]


def _in_insecure(host: str, insecure_registries: Iterable[str]) -> bool:
    """The daemon treats ``host`` as insecure: named, or its address inside a listed CIDR."""
    items = list(insecure_registries)
    if host in items:
        return True
    try:
        address = ipaddress.ip_address(_host_name(host))
    except ValueError:
        return False
    for item in items:
        if "/" in item:
            try:
                if address in ipaddress.ip_network(item, strict=False):
                    return True
            except ValueError:
                continue
    return False


def needs_http(host: str, insecure_registries: Iterable[str]) -> bool:
    """Whether BuildKit has to reach ``host`` over plain HTTP, as the daemon would.

    A loopback registry is insecure to dockerd by default (127.0.0.0/8); every other host only
    when the daemon lists it.
    """
    return is_loopback(host) or _in_insecure(host, insecure_registries)


# --- buildkitd.toml -------------------------------------------------------------------------------


def config_registries(text: str) -> dict[str, RegistryRule]:
    """``[registry."HOST"]`` tables of a buildkitd config; raises BuildxError when not TOML."""
    if not text.strip():
        return {}
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise BuildxError(
            f"the buildkitd config is not valid TOML: {exc}",
            'A registry entry looks like [registry."127.0.0.1:5000"] with http = true.',
        ) from None
    out: dict[str, RegistryRule] = {}
    registries = data.get("registry")
    if isinstance(registries, dict):
        for host, rule in registries.items():
            if isinstance(rule, dict):
                out[str(host)] = RegistryRule(
                    http=rule.get("http") is True, insecure=rule.get("insecure") is True
                )
    return out


def buildkitd_config(hosts: Iterable[str], base: str = "") -> str:
    """``base`` (a user's config) plus an http/insecure table for each host it does not name."""
    known = config_registries(base)
    parts = [base.rstrip("\n")] if base.strip() else []
    for host in hosts:
        if host in known:
            continue
        parts.append(f'[registry."{host}"]\n  http = true\n  insecure = true')
        known[host] = RegistryRule(http=True, insecure=True)
    text = "\n\n".join(parts) + "\n" if parts else ""
    config_registries(text)  # the merge is still TOML (raises otherwise)
    return text


def node_config(node: Node) -> str:
    """The buildkitd config a node was created with ('' when none or unreadable)."""
    raw = node.files.get(CONFIG_NAME, "")
    if not raw:
        return ""
    try:
        return base64.b64decode(raw, validate=True).decode("utf-8", errors="replace")
    except (binascii.Error, ValueError):
        return raw if "[" in raw else ""  # a buildx that stores the text itself


def plan(
    insecure_registries: Iterable[str], *, user_config: str = "", carry_daemon: bool = True
) -> RegistrySetup:
    """What a new docker-container builder gets: the daemon's insecure registries over HTTP
    (unless ``carry_daemon`` is off) on top of ``user_config``, host network when one of the
    registries is on loopback."""
    hosts = daemon_registry_hosts(insecure_registries) if carry_daemon else []
    text = buildkitd_config(hosts, user_config)
    named = list(config_registries(text))
    return RegistrySetup(
        hosts=tuple(named),
        host_network=any(is_loopback(h) for h in named),
        config_text=text,
    )


def apply(req: CreateRequest, setup: RegistrySetup, config_path: str) -> CreateRequest:
    """``req`` with the setup on each docker-container node (an explicit ``network`` wins)."""
    if req.driver != "docker-container" or not (setup.config_text or setup.host_network):
        return req
    nodes = []
    for node in req.nodes:
        opts = dict(node.driver_opts)
        if setup.host_network:
            opts.setdefault("network", "host")
        nodes.append(
            replace(
                node,
                driver_opts=opts,
                buildkitd_config=node.buildkitd_config
                or (config_path if setup.config_text else ""),
            )
        )
    return replace(req, nodes=tuple(nodes))


async def prepare_create(
    req: CreateRequest, *, config_file: str = "", carry_daemon: bool = True
) -> tuple[CreateRequest, RegistrySetup, str]:
    """Plan ``req``'s registries from the daemon's facts and write the config to a temp file.

    Returns the request to create, the setup, and the temp file to delete after the create
    ('' when none was written: buildx keeps a copy of the config in its own store).
    """
    if req.driver != "docker-container" or req.append:
        return req, RegistrySetup(), ""
    user_config = ""
    if config_file:
        try:
            user_config = await asyncio.to_thread(Path(config_file).read_text, encoding="utf-8")
        except OSError as exc:
            raise BuildxError(
                f"cannot read the buildkitd config {config_file}: {exc.strerror or exc}",
                "Give the path of a buildkitd.toml file.",
            ) from None
    insecure: list[str] = []
    if carry_daemon:
        try:
            insecure = (await engine.daemon_info()).insecure_registries
        except engine.EngineError as exc:
            _log.warning("cannot read the daemon's insecure registries: %s", exc)
    setup = plan(insecure, user_config=user_config, carry_daemon=carry_daemon)
    if not setup.config_text:
        return apply(req, setup, ""), setup, ""
    path = await asyncio.to_thread(_write_temp, setup.config_text)
    _log.info("buildkitd config for %s: registries %s", req.name, ", ".join(setup.hosts))
    return apply(req, setup, path), setup, path


def write_config(text: str) -> str:
    """Write a buildkitd config to a temp file (for ``--buildkitd-config``); returns its path.

    The caller deletes it after the create: buildx keeps its own copy.
    """
    return _write_temp(text)


def _write_temp(text: str) -> str:
    fd, path = tempfile.mkstemp(prefix="mabgui-buildkitd-", suffix=".toml")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    return path


# --- can this builder push there? -----------------------------------------------------------------


def push_problem(
    builder: Builder, registry_host: str, insecure_registries: Iterable[str]
) -> str | None:
    """Why ``builder`` cannot push to ``registry_host``, with the fix; None when it can (or when
    mabgui cannot tell: docker, remote and kubernetes drivers)."""
    if builder.driver != "docker-container" or not builder.nodes:
        return None
    loopback = is_loopback(registry_host)
    http = needs_http(registry_host, insecure_registries)
    reasons: list[str] = []
    fixes: list[str] = []
    for node in builder.nodes:
        rules = _node_rules(node)
        rule = rules.get(registry_host, RegistryRule())
        target = node.host or node.endpoint
        if loopback and target.startswith(("tcp://", "ssh://")):
            reasons.append(
                f"node {node.name} runs on another machine ({target}), where {registry_host} "
                "is not this machine's registry"
            )
            if "address" not in fixes:
                fixes.append("address")
            continue
        if loopback and node.driver_opts.get("network") != "host":
            reasons.append(
                f"node {node.name} runs BuildKit in a container with its own network, where "
                f"{registry_host} is not this machine's registry"
            )
            if "host network" not in fixes:
                fixes.append("host network")
        if http and not rule.http:
            reasons.append(
                f"node {node.name}'s buildkitd config does not mark {registry_host} as plain "
                "HTTP (the daemon reaches it insecurely; BuildKit would try HTTPS)"
            )
            if "http" not in fixes:
                fixes.append("http")
    if not reasons:
        return None
    if "address" in fixes:
        return (
            f"builder {builder.name} cannot push to {registry_host}: {'; '.join(reasons)}. "
            f"Fix: push to an address of the registry that every node of {builder.name} "
            "reaches (not loopback), or build on a builder whose nodes run on this machine"
        )
    what = " and ".join(
        "host network" if f == "host network" else f"{registry_host} over HTTP" for f in fixes
    )
    return (
        f"builder {builder.name} cannot push to {registry_host}: {'; '.join(reasons)}. "
        f"Fix: recreate builder {builder.name} with {what} (`mabgui builder rm {builder.name}`, "
        f"then `mabgui builder create --name {builder.name} --bootstrap`: mabgui's defaults "
        "carry the daemon's insecure registries over and use the host network for loopback ones)"
    )


def _node_rules(node: Node) -> Mapping[str, RegistryRule]:
    try:
        return config_registries(node_config(node))
    except BuildxError:
        return {}
