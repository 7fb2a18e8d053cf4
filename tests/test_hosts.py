"""`HostCheck`: which Host header values a listener answers (DNS rebinding)."""

from __future__ import annotations

import pytest

from lunaroute.hosts import HOST_PATTERN, HostCheck


@pytest.mark.parametrize(
    "host", ["localhost", "localhost:8081", "127.0.0.1", "127.0.0.1:1", "[::1]", "[::1]:8081", "LOCALHOST.", None]
)
def test_a_loopback_listener_answers_the_loopback_names_on_any_port(host: str | None) -> None:
    assert HostCheck("127.0.0.1").allows(host)
    assert HostCheck("::1").allows(host)
    assert HostCheck("localhost").allows(host)


@pytest.mark.parametrize(
    "host", ["evil.example", "evil.example:8081", "127.0.0.1.nip.io", "localhost.evil.example", "[::2]", "10.0.0.1"]
)
def test_a_loopback_listener_refuses_other_names(host: str) -> None:
    assert not HostCheck("127.0.0.1").allows(host)


def test_a_loopback_listener_answers_its_own_address_and_the_allowed_names() -> None:
    check = HostCheck("127.0.0.2", ["gw.internal", "*.corp.example"])
    assert check.allows("127.0.0.2:8081")
    assert check.allows("GW.internal:80")
    assert check.allows("a.b.corp.example")
    assert not check.allows("corp.example")
    assert not check.allows("gw.internal.evil")


def test_other_listeners_answer_any_host_unless_names_are_configured() -> None:
    assert HostCheck("0.0.0.0").allows("whatever.example")
    assert HostCheck("10.1.2.3").allows("whatever.example")
    check = HostCheck("0.0.0.0", ["gateway.example.com"])
    assert check.allows("gateway.example.com:443")
    assert check.allows("localhost:8081")
    assert not check.allows("evil.example")
    assert HostCheck("127.0.0.1", ["*"]).allows("evil.example")


@pytest.mark.parametrize("entry", ["*", "gw.example.com", "*.example.com", "10.0.0.1", "[::1]", "::1", "host_1"])
def test_valid_allow_list_entries(entry: str) -> None:
    assert HOST_PATTERN.fullmatch(entry)


@pytest.mark.parametrize("entry", ["", "http://gw", "gw:8081", "ab:80", "a b", "gw/", "*gw", "a.*.b"])
def test_invalid_allow_list_entries(entry: str) -> None:
    assert not HOST_PATTERN.fullmatch(entry)
