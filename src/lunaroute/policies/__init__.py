"""Policies applied to a request before routing: who is calling and what they may call."""

from lunaroute.policies._auth import KEY_HEADER, Authenticator, ModelNotAllowed, Principal

__all__ = ["KEY_HEADER", "Authenticator", "ModelNotAllowed", "Principal"]
