"""Sync logic: pure planning functions plus services that combine database, clients and plans."""
