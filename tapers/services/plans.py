"""Tapers services: plans."""
