"""Tapers services: coordination."""
