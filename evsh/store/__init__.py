"""The event store: records, the store protocol and its embedded SQLite implementation."""
