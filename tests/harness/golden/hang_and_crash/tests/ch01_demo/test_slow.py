from kata import exercise

slow = exercise("ch01_demo.slow")


def test_the_ack_comes() -> None:
    assert slow.wait_for_ack() is True


def test_the_ack_comes_again() -> None:
    assert slow.wait_for_ack() is True
