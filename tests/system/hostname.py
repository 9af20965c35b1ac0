"""``[core] hostname_callable`` for the system test: each worker names itself, so task instances show which ran them."""

from __future__ import annotations

import os
import socket


def get() -> str:
    return os.environ.get("PANDORA_SYSTEM_HOSTNAME") or socket.getfqdn()
