"""Decisions: what the middleware decided about a request, and the log of them."""
