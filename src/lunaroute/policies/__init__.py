"""Policies applied to a request before routing: who is calling and what they may call."""

from lunaroute.policies._auth import KEY_HEADER, Authenticator, ModelNotAllowed, Principal
from lunaroute.policies._model_list import filter_listing, restrict_model_list, without_compression

__all__ = [
    "KEY_HEADER",
    "Authenticator",
    "ModelNotAllowed",
    "Principal",
    "filter_listing",
    "restrict_model_list",
    "without_compression",
]
