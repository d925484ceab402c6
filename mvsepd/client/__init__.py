"""Reaching a running daemon (entry layer, beside ``cli`` and ``tray``, which use it): the client
of its status API (``control``): found through the runtime file, never through a proxy, and
saying plainly when no daemon runs, or when one is still starting (it holds the instance lock,
``mvsepd.process.instancelock``, but has not written its runtime file yet).

May import the process layer and below; only the other entry packages import it.
"""
