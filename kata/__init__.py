"""The kata's harness: catalog, targets, brokers, pytest plugin and the `kata` command.

Learners never need to open this package; tests reach it through fixtures
and through :func:`kata.core.target.exercise`.
"""

from kata.core.target import exercise

__all__ = ["exercise"]
