"""The pure rules (domain layer): presets checked against MVSEP's catalog (``presets``),
chains of steps (``chains``), credit estimates (``cost``), the job state machine and its
schedules (``lifecycle``), names and output templates (``naming``), content identity
(``hashing``), and what MVSEP's plans allow (``plans``).

No I/O of its own beyond reading a file to hash it, no clock, no configuration file: may import
the leaf only (``errors``, ``models``, ``paths``, ``suggest``).
"""
