"""Tapers admin: coordination."""
