"""Built-in strategies. Each is a plugin registered through the same entry-point path as third-party ones."""

from .adaptive_voting import AdaptiveVoting
from .base import Strategy
from .budget_forcing import BudgetForcing
from .budget_sweep import BudgetSweep
from .certainty_probe import CertaintyProbe
from .class_conditional import ClassConditionalControl
from .deepconf import DeepConf
from .majority_voting import MajorityVoting
from .rejection_sampling import RejectionSampling
from .step_conditional import StepConditionalControl
from .token_conditional import TokenConditionalControl

__all__ = [
    "AdaptiveVoting",
    "BudgetForcing",
    "BudgetSweep",
    "CertaintyProbe",
    "ClassConditionalControl",
    "DeepConf",
    "MajorityVoting",
    "RejectionSampling",
    "StepConditionalControl",
    "Strategy",
    "TokenConditionalControl",
]
