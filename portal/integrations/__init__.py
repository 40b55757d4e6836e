"""Outbound HTTP clients. Modules here import requests (and redis for ledgers), never Flask or models."""
