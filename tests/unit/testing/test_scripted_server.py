"""The scripted endpoint is a fixture of tests and benchmarks: a client dropping a connection
is normal there and must not print a traceback into their output."""

from __future__ import annotations

import socket
import struct
import time

import pytest

from safeval.testing.openai_server import ScriptedOpenAIServer


def test_a_reset_connection_prints_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    with ScriptedOpenAIServer() as srv:
        host, port = srv.base_url.split("//")[1].split("/")[0].split(":")
        s = socket.create_connection((host, int(port)))
        s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\n")  # a request cut short
        time.sleep(0.05)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()  # linger 0: the peer sees a reset, not a clean close
        time.sleep(0.2)
    err = capsys.readouterr().err
    assert "Traceback" not in err and "ConnectionResetError" not in err
