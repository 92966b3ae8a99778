"""Who is acting: the authenticated account, or anonymous."""

from .resolvers import IdentityResolver, build_resolver

__all__ = ["IdentityResolver", "build_resolver"]
