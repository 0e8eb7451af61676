"""The kata's tests run through its own pytest plugin (kata/plugin.py)."""

pytest_plugins = ["kata.plugin"]
