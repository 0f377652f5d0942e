"""Tapers tasks: plans."""
