"""Connector types and their processes, each a folder; the registry looks them up by kind/key."""
