from kata import exercise

later = exercise("ch01_demo.later")


def test_greet_says_hello() -> None:
    assert later.greet("ada") == "hello ada"
