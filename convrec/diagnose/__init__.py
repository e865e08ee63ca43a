"""Seeing inside a run: plots (and, with their issue, summaries and gradient flow)."""
