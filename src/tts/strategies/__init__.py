"""Built-in strategies. Each is a plugin registered through the same entry-point path as third-party ones."""

from .base import Strategy
from .budget_forcing import BudgetForcing

__all__ = ["Strategy", "BudgetForcing"]
