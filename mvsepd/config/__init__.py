"""The configuration (domain layer, above ``domain``): the model of the YAML file and its
sections (``model``, ``defaults`` for a folder's stem settings), reading the file with the
hardened YAML loader and finding the API token (``file``), its syntax errors in a producer's
words (``syntax``), validating it all at once with lines and suggestions (``validation``), the
rules across folders (``rules``), and writing it back with the user's comments kept
(``write``, the only importer of ruamel.yaml).

May import ``domain`` and the leaf (``errors``, ``models``, ``paths``, ``suggest``); never an
adapter or anything above.
"""
