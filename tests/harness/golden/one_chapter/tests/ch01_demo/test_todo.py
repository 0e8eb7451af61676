from kata import exercise

todo = exercise("ch01_demo.todo")


def test_greet_says_hello() -> None:
    assert todo.greet("ada") == "hello ada"


def test_greet_keeps_the_name() -> None:
    assert todo.greet("Bo").endswith("Bo")
