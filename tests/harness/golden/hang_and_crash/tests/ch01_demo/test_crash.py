from kata import exercise

crash = exercise("ch01_demo.crash")


def test_a_bad_payload_is_survived() -> None:
    crash.deliver(b"not a number")
