"""Registered components; see the modules of this package."""
