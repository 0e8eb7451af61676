from kata import exercise

broken = exercise("ch01_demo.broken")


def test_shout() -> None:
    assert broken.shout("hi") == "HI!"
