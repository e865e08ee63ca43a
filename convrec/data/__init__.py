"""Readers, datasets and generators of the applications' data."""
