"""Policies applied to a request before routing: who is calling, what they may call, and how much."""

from lunaroute.policies._auth import KEY_HEADER, Authenticator, ModelNotAllowed, Principal
from lunaroute.policies._budgets import BudgetHold, Budgets
from lunaroute.policies._chain import Admission, Policies
from lunaroute.policies._limits import Grant, Limiter, StateStore
from lunaroute.policies._meter import UsageMeter
from lunaroute.policies._model_list import filter_listing, restrict_model_list, without_compression

__all__ = [
    "KEY_HEADER",
    "Admission",
    "Authenticator",
    "BudgetHold",
    "Budgets",
    "Grant",
    "Limiter",
    "ModelNotAllowed",
    "Policies",
    "Principal",
    "StateStore",
    "UsageMeter",
    "filter_listing",
    "restrict_model_list",
    "without_compression",
]
