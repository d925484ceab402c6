"""The daemon's local status and control API (orchestration layer).

``server`` serves it over HTTP on loopback (``StatusApi``); ``picture`` turns the engine's state
into the JSON clients show; ``words`` says how a job stands in a few words; ``runtime`` owns the
0600 runtime file through which clients find the daemon and its token. The clients themselves
(``mvsepd.client.control``, the CLI, the tray) live in the entry layer.
"""

from mvsepd.statusapi.picture import API_VERSION, DaemonFacts, Picture
from mvsepd.statusapi.runtime import (
    RuntimeInfo,
    read_runtime_file,
    remove_runtime_file,
    write_runtime_file,
)
from mvsepd.statusapi.server import PREFIX, TOKEN_HEADER, StatusApi, is_loopback

__all__ = [
    "API_VERSION",
    "PREFIX",
    "TOKEN_HEADER",
    "DaemonFacts",
    "Picture",
    "RuntimeInfo",
    "StatusApi",
    "is_loopback",
    "read_runtime_file",
    "remove_runtime_file",
    "write_runtime_file",
]
