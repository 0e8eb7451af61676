from kata import exercise

wrong = exercise("ch01_demo.wrong")


def test_add_adds() -> None:
    got = wrong.add(2, 3)
    assert got == 5, f"add(2, 3) is 5, not {got}"


def test_add_zero() -> None:
    assert wrong.add(0, 0) == 0


def test_add_negative() -> None:
    assert wrong.add(-1, 1) == 0
