"""Relationships the host app already has: who is connected to whom, and mutual connections."""

from .lookup import Lookup, compile_lookup
from .relationships import RelationshipDirectory

__all__ = ["Lookup", "RelationshipDirectory", "compile_lookup"]
