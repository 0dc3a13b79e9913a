"""Where `rag serve` listens: a page reachable from other machines says so with its real addresses, a login
can be required, and a bad host or port is one line (issue 15, items 8 and 14)."""

from __future__ import annotations

import socket
from typing import Any

import pytest

import ui.app
from rag.config import load_config
from rag.errors import ServeError
from tests.ui_fakes import ScriptedAssistant
from ui.listen import ListenAddress, exposure_warning, listen_address


class RecordingApp:
    """Stands in for gr.Blocks: records what launch() was given and does not block."""

    def __init__(self) -> None:
        self.launched: dict[str, Any] = {}

    def launch(self, **kwargs: Any) -> tuple[None, str, None]:
        self.launched = kwargs
        return None, f"http://localhost:{kwargs['server_port']}/", None

    def block_thread(self) -> None:
        pass


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """What serve() built and launched: the app's launch arguments and build_app's allow_writes."""
    seen: dict[str, Any] = {"app": RecordingApp()}

    def build_app(assistant: Any, allow_writes: bool = True) -> RecordingApp:
        seen["allow_writes"] = allow_writes
        return seen["app"]

    monkeypatch.setattr(ui.app, "build_app", build_app)
    return seen


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def serve(host: str, logins: tuple[tuple[str, str], ...] = ()) -> None:
    assistant = ScriptedAssistant(config=load_config(env={}, host=host, port=free_port()))
    ui.app.serve(assistant, logins=logins)


def test_serving_on_every_interface_warns_with_the_real_addresses_and_prints_no_localhost(
        recorded: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    serve("0.0.0.0")
    captured = capsys.readouterr()
    address = listen_address("0.0.0.0", 7860)
    outside = [a for a in address.reachable if not a.startswith("127.") and a != "::1"]
    if not outside:
        pytest.skip("this machine has no address besides loopback")
    warning = next(line for line in captured.err.splitlines() if line.startswith("warning:"))
    assert "listens on 0.0.0.0" in warning and "no login is set" in warning and "--auth" in warning
    assert all(f"http://{a}:" in warning for a in outside if ":" not in a)
    assert "localhost" not in captured.out
    assert captured.out.startswith(f"Chat page: http://{outside[0]}:")


def test_without_a_login_a_page_reachable_from_other_machines_allows_no_writes(recorded: dict[str, Any]) -> None:
    serve("0.0.0.0")
    assert recorded["allow_writes"] is False
    assert recorded["app"].launched["auth"] is None


def test_a_login_reaches_gradio_and_allows_writes_again(recorded: dict[str, Any],
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    serve("0.0.0.0", logins=(("alice", "s3cret"), ("bob", "pw")))
    assert recorded["app"].launched["auth"] == [("alice", "s3cret"), ("bob", "pw")]
    assert recorded["allow_writes"] is True
    warning = capsys.readouterr().err
    assert "must log in" in warning and "s3cret" not in warning


def test_serving_on_loopback_prints_its_own_url_and_no_warning(recorded: dict[str, Any],
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    serve("127.0.0.1")
    captured = capsys.readouterr()
    port = recorded["app"].launched["server_port"]
    assert captured.err == ""
    assert captured.out.startswith(f"Chat page: http://127.0.0.1:{port}/")
    assert recorded["allow_writes"] is True and recorded["app"].launched["server_name"] == "127.0.0.1"


def test_a_warning_names_every_outside_address_and_says_how_to_require_a_login() -> None:
    address = ListenAddress("0.0.0.0", 8000, ("192.0.2.7", "fd00::7", "127.0.0.1", "::1"), loopback=False)
    assert exposure_warning(address, has_login=False) == (
        "warning: the chat page listens on 0.0.0.0, reachable at http://192.0.2.7:8000/, http://[fd00::7]:8000/; "
        "no login is set, so anyone who reaches it can ask questions and read every indexed release "
        "(add --auth USER:PASSWORD, RAG_AUTH or --auth-file, or listen on 127.0.0.1)")
    assert address.page_url == "http://192.0.2.7:8000/"


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1"])
def test_loopback_hosts_are_not_exposed(host: str) -> None:
    try:
        address = listen_address(host, free_port())
    except ServeError:
        pytest.skip(f"{host} is not usable here")
    assert address.loopback and address.outside == ()


def test_a_busy_port_is_one_line_naming_the_address() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(ServeError, match=f"cannot listen on 127.0.0.1:{port}: the port is already in use"):
            listen_address("127.0.0.1", port)


@pytest.mark.parametrize("host", ["not a host", "999.1.1.1", "x" * 300])
def test_a_host_that_does_not_resolve_is_one_line(host: str) -> None:
    with pytest.raises(ServeError, match="cannot listen on host"):
        listen_address(host, 7860)


def test_an_address_of_another_machine_is_refused() -> None:
    with pytest.raises(ServeError, match="is not an address of this machine"):
        listen_address("192.0.2.254", free_port())


def test_gradio_failing_to_bind_becomes_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    app = RecordingApp()

    def refuse(**kwargs: Any) -> None:
        raise OSError("Cannot find empty port in range: 7860-7860.")

    monkeypatch.setattr(app, "launch", refuse)
    with pytest.raises(ServeError, match="cannot listen on http://127.0.0.1:7860/ \\(Cannot find empty port"):
        ui.app.launch(app, "127.0.0.1", 7860, block=False)  # type: ignore[arg-type]
