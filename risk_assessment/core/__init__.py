"""Core: paths, names, errors, atomic writes, formatting, the CLI edge, the one config
loader (settings) and the writer lock (locking).

May import: nothing else of the package (standard library only).
"""
