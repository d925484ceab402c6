"""mvsepd: hot folders for MVSEP music source separation.

Control flow, top to bottom: ``cli`` (and ``tray``, ``service``) starts the ``daemon``; the daemon
runs the ``engine`` and the ``statusapi``; the engine drives jobs through the states of
``lifecycle`` using the adapters ``api`` (MVSEP over HTTP), ``store`` (SQLite), ``intake``
(watchdog), ``outputs`` (stem files) and ``audio`` (soundfile). ``emulator`` is a separate fake
MVSEP that nothing in the daemon imports.
"""

__version__ = "0.1.0"
