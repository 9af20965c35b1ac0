"""Where ``http`` exports may deliver: the hosts listed with ``--export-allow HOST[:PORT]``, and never the emulator.

An export's destination is whatever a client wrote in its spec, so without a rule an ``http`` export makes the
emulator POST to any host, port and path it can reach: another service on the machine, or the emulator's own
``/_emulator/reset``. The rule, checked before every delivery (:meth:`ExportPolicy.check`):

* A destination is allowed when an entry names its host as the spec writes it (case-insensitive; no resolving
  here, so ``localhost`` and ``127.0.0.1`` are different entries) and its port (the scheme's default, 80 or 443,
  when the spec names none). An entry without a port allows every port of its host. Nothing is allowed unless
  listed.
* A destination on the emulator's own listening port at a local address (loopback, ``0.0.0.0``/``::``, or any
  address of this machine), as written or as its name resolves, is refused always, listed or not.

A refused delivery raises :class:`ExportRefused`; its message names the destination and how to allow it. An
allowed one is resolved once, and the delivery connects to exactly the addresses that were checked
(:func:`~.export_targets.deliver_http`'s ``addresses``), so a name cannot resolve to the emulator in between.

``kodo`` exports write files under ``--kodo-root``, and ``tsdb``, ``logdb`` and ``mongo`` ones only count their
points: none of them opens a connection, so the list does not apply to them.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import threading
from collections.abc import Iterable
from dataclasses import dataclass

from airflow_provider_pandora.emulator.delivery.export_targets import Address, Destination, authority

__all__ = ["AllowEntry", "ExportPolicy", "ExportRefused", "parse_allow"]

_LABEL = r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
_HOSTNAME_RE = re.compile(rf"^{_LABEL}(?:\.{_LABEL})*\.?$")
ALLOW_FORM = "HOST[:PORT] (such as 127.0.0.1:8080, sink.example.com or [::1]:8080)"


@dataclass(frozen=True)
class AllowEntry:
    """One ``--export-allow`` entry: a host as export specs write it (lower-case, IPv6 without brackets) and a
    port, or ``None`` for every port."""

    host: str
    port: int | None

    def __str__(self) -> str:
        return authority(self.host, self.port)

    def matches(self, destination: Destination) -> bool:
        """Whether this entry allows ``destination``."""
        return self.host == destination.host and self.port in (None, destination.port)


def parse_allow(text: str) -> AllowEntry:
    """An entry from its ``HOST[:PORT]`` text; :class:`ValueError` says what is wrong (not a URL, no path)."""
    value = text.strip()
    if not value:
        raise ValueError(f"an empty value; give {ALLOW_FORM}")
    if "://" in value or "/" in value or "@" in value:
        raise ValueError(f"{text!r} is not {ALLOW_FORM}: give the host and port alone, without scheme or path")
    port_text: str | None = None
    if value.startswith("["):
        host, bracket, rest = value[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise ValueError(f"{text!r} is not {ALLOW_FORM}: an IPv6 address goes in brackets, [::1]:8080")
        port_text = rest[1:] if rest else None
    elif value.count(":") == 1:
        host, _, port_text = value.partition(":")
    else:
        host = value  # a name, an IPv4 address, or a bare IPv6 address (every port)
    host = host.lower()
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if ":" in host or not _HOSTNAME_RE.match(host):
            raise ValueError(f"{text!r} is not {ALLOW_FORM}: {host!r} is not a host name or IP address") from None
    port = None
    if port_text is not None:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise ValueError(f"{text!r} is not {ALLOW_FORM}: the port must be a number from 1 to 65535")
        port = int(port_text)
    return AllowEntry(host, port)


class ExportRefused(Exception):
    """A delivery the policy refused: ``destination``, ``reason`` and ``how`` (to allow it, if it can be)."""

    def __init__(self, destination: Destination, reason: str, how: str) -> None:
        self.destination = destination
        self.reason = reason
        self.how = how
        super().__init__(f"delivery to {destination.url} refused: {reason}; {how}")


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _is_local(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Whether ``address`` is one of this machine's: only those can be bound to."""
    family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.bind((str(address), 0))
    except OSError:
        return False
    return True


class ExportPolicy:
    """The allow-list of ``http`` export destinations, and the emulator's own port to refuse always; thread-safe.

    :param allow: entries as ``HOST[:PORT]`` text or :class:`AllowEntry`; nothing is allowed without them.
    """

    def __init__(self, allow: Iterable[str | AllowEntry] = ()) -> None:
        self._lock = threading.Lock()
        self._entries: tuple[AllowEntry, ...] = ()
        self.own_port: int | None = None
        self.allow(*allow)

    @property
    def entries(self) -> tuple[AllowEntry, ...]:
        """The allowed destinations, in the order they were given."""
        with self._lock:
            return self._entries

    def allow(self, *entries: str | AllowEntry) -> None:
        """Allow more destinations (``HOST[:PORT]``); :class:`ValueError` for one that is not, adding none."""
        parsed = [entry if isinstance(entry, AllowEntry) else parse_allow(entry) for entry in entries]
        with self._lock:
            self._entries += tuple(entry for entry in parsed if entry not in self._entries)

    def listening_on(self, port: int) -> None:
        """The port the emulator serves on: local destinations on it are refused always."""
        self.own_port = port

    def is_self(self, host: str, port: int) -> bool:
        """Whether ``host`` (an address, or ``localhost``) on ``port`` reaches the emulator itself."""
        if self.own_port is None or port != self.own_port:
            return False
        name = host.lower().rstrip(".")
        if name == "localhost" or name.endswith(".localhost"):
            return True
        address = _address(host)
        if address is None:
            return False
        return address.is_loopback or address.is_unspecified or _is_local(address)

    def check(self, destination: Destination) -> list[Address]:
        """The addresses a delivery to ``destination`` may connect to, or :class:`ExportRefused`.

        An unresolvable name raises :class:`OSError` (the delivery is retried, as when a connection fails).
        """
        if self.is_self(destination.host, destination.port):
            raise ExportRefused(destination, "it is the emulator's own address", _NEVER)
        if not any(entry.matches(destination) for entry in self.entries):
            raise ExportRefused(
                destination,
                f"{destination.authority} is not in the emulator's --export-allow list",
                f"to allow it, start the emulator with --export-allow {destination.authority}"
                f" (in Python: PandoraEmulator(export_allow=[{destination.authority!r}]))",
            )
        infos = socket.getaddrinfo(destination.host, destination.port, type=socket.SOCK_STREAM)
        addresses = [(int(family), tuple(sockaddr)) for family, _, _, _, sockaddr in infos]
        for _, sockaddr in addresses:
            if self.is_self(str(sockaddr[0]), destination.port):
                reason = f"{destination.host} resolves to {sockaddr[0]}, the emulator's own address"
                raise ExportRefused(destination, reason, _NEVER)
        return addresses


_NEVER = "an export can never deliver to the emulator itself, even when --export-allow lists it"
