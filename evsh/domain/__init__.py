"""The domain layer: events, aggregates, commands and the loading of a user's domain module.

Pure Python: no storage, no I/O, no click/rich/textual.
"""
