from kata import exercise
from kata.core.expect import expect_raises
from kata.core.i18n import teach

failing = exercise("ch01_demo.failing")


def test_add_adds() -> None:
    got = failing.add(2, 3)
    assert got == 5, teach(en=f"add(2, 3) is 5, not {got}", ja=f"add(2, 3) は {got} ではなく 5")


def test_a_long_message_is_cut() -> None:
    got = failing.add(1, 1)
    assert got == 2, "the sum of two numbers " * 20 + f"(got {got})"


def test_add_refuses_a_negative_sum() -> None:
    why = teach(en="the demo wants an error", ja="デモではエラーが必要です")
    expect_raises(ValueError, failing.add, 1, 2, why=why)
