"""What only the daemon process needs (process layer): the daemon itself and its start-up
and shutdown (``daemon``), the one-per-user lock (``instancelock``), the service manager's
notifications (``sdnotify``), how work is spread over threads (``allocator``), the studio
host's start (``studiohost``), and logging: its set-up (``logsetup``) and the words a terminal
shows (``logwords``).

May import orchestration (``engine``, ``statusapi``) and everything below; only the entry layer
(``cli``, ``tray``, ``service``) imports it.
"""
