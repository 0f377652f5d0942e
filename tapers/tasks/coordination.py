"""Tapers tasks: coordination."""
