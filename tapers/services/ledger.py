"""Tapers services: ledger."""
