"""Tapers admin: ledger."""
