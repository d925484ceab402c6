"""The MVSEP web API adapter: ``MvsepClient`` over ``Transport`` (HTTP) and ``wire`` (JSON).

Only this package imports requests. ``wire`` is the only place that knows MVSEP's field names;
``transport`` the only place that translates requests' exceptions into ``mvsepd.errors``.
"""

from mvsepd.api.client import MvsepClient
from mvsepd.api.servers import host_of, resolve_server
from mvsepd.api.transport import Transport

__all__ = ["MvsepClient", "Transport", "host_of", "resolve_server"]
