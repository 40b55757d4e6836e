"""connectors blueprint."""
