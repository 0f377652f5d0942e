"""Tapers admin: plans."""
