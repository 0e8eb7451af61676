"""The golden trees are data for tests/harness/test_golden.py, not tests of this kata."""

collect_ignore_glob = ["*"]
