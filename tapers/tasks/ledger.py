"""Tapers tasks: ledger."""
