"""RUNWIRE_* settings: documented defaults, typed parsing, and errors naming the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from runwire.ops.settings import Settings, SettingsError, load_settings


def test_defaults_match_the_design() -> None:
    s = load_settings({})
    assert (s.nats_url, s.data_dir, s.http_host, s.http_port) == (None, Path(".runwire"), "127.0.0.1", 8000)
    assert (s.auth_secret, s.heartbeat_seconds, s.max_connections) == (None, 15.0, 10_000)


def test_values_are_parsed_to_their_types() -> None:
    s = load_settings(
        {"RUNWIRE_HTTP_PORT": "9000", "RUNWIRE_HEARTBEAT_SECONDS": "2.5", "RUNWIRE_DATA_DIR": "/tmp/x"}
    )
    assert (s.http_port, s.heartbeat_seconds, s.data_dir) == (9000, 2.5, Path("/tmp/x"))


def test_nats_url_lists_comma_separated_servers() -> None:
    s = load_settings({"RUNWIRE_NATS_URL": "nats://a:4222, nats://b:4222"})
    assert s.nats_servers == ["nats://a:4222", "nats://b:4222"]


def test_empty_variable_means_default() -> None:
    assert load_settings({"RUNWIRE_HTTP_PORT": ""}).http_port == 8000


def test_bad_values_are_all_reported_by_variable() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(
            {"RUNWIRE_HTTP_PORT": "eighty", "RUNWIRE_MAX_CONNECTIONS": "0", "RUNWIRE_LOG_LEVEL": "loud"}
        )
    message = str(caught.value)
    assert "RUNWIRE_HTTP_PORT='eighty'" in message
    assert "RUNWIRE_MAX_CONNECTIONS='0'" in message
    assert "RUNWIRE_LOG_LEVEL='loud'" in message


def test_port_out_of_range_is_rejected() -> None:
    with pytest.raises(SettingsError, match="RUNWIRE_HTTP_PORT"):
        load_settings({"RUNWIRE_HTTP_PORT": "70000"})


def test_service_ports_follow_the_stream_api() -> None:
    assert Settings(http_port=9000).service_port(3) == 9003
