"""Botifython: a terminal app for SEO practitioners working with the Botify crawler."""

__version__ = "0.1.0"
