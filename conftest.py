"""The kata's tests run through its own pytest plugin (kata/core/plugin.py)."""

pytest_plugins = ["kata.core.plugin"]
