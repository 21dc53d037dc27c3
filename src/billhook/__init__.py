"""billhook: an invoicing engine for subscription and usage billing."""

__version__ = "0.1.0"
