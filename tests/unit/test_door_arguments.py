"""`shopkeeper-mcp`'s command line: stdio with no arguments, the HTTP door when asked, exit 2 on anything else."""

from __future__ import annotations

import pytest

from mcp_server.entrypoint import Door, _door  # pyright: ignore[reportPrivateUsage]


def test_the_http_door_takes_host_port_and_workers() -> None:
    assert _door(["--transport", "http"]) == Door("http", "127.0.0.1", 8765, 1)
    everywhere = "0.0.0.0"  # noqa: S104 - the argument under test, nothing binds here
    assert _door(["--transport=http", "--host", everywhere, "--port", "9000", "--workers", "4"]) == Door(
        "http", everywhere, 9000, 4
    )
    assert _door(["--transport", "stdio"]) == Door("stdio", "127.0.0.1", 8765, 1)


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--transport", "sse"], "invalid choice"),
        (["--port", "9000"], "are for --transport http"),
        (["--transport", "http", "--port", "0"], "not a port"),
        (["--transport", "http", "--port", "70000"], "not a port"),
        (["--transport", "http", "--workers", "0"], "--workers takes 1 to 64"),
        (["--transport", "http", "--port", "eighty"], "invalid int value"),
        (["serve"], "unrecognized arguments"),
    ],
)
def test_anything_else_is_exit_2_with_one_line(argv: list[str], says: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        _door(argv)
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1
    assert err.startswith("shopkeeper-mcp: ")
    assert says in err
