import base64

import pytest

from streams.connectors.config import ConfigError, load_gateway, load_poll
from streams.connectors.readable import dcsa_version_problem, unreadable


def test_gateway_config_with_secrets_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("MAEU_KEY", "k" * 24)
    secret = base64.b64encode(b"s" * 32).decode()
    path = tmp_path / "gateway.yaml"
    path.write_text(f"sources:\n  - name: maeu\n    api_keys: ['${{MAEU_KEY}}']\n    secrets: ['{secret}']\n")
    cfg = load_gateway(path)
    assert cfg.source("maeu").api_keys == ["k" * 24]
    assert cfg.source("maeu").secret_keys() == [b"s" * 32]
    monkeypatch.delenv("MAEU_KEY")
    with pytest.raises(ConfigError, match="MAEU_KEY"):
        load_gateway(path)


@pytest.mark.parametrize("body, words", [
    ("sources: [{name: a, api_keys: [short]}]", "16 characters"),
    ("sources: [{name: a, secrets: ['not base64!']}]", "base64"),
    ("sources: [{name: a}, {name: a}]", "unique"),
    ("sources: [{name: 'a b'}]", "pattern"),
    ("sources: [{name: a, colour: red}]", "colour"),
])
def test_bad_gateway_configs_say_why(tmp_path, body, words):
    path = tmp_path / "g.yaml"
    path.write_text(body)
    with pytest.raises(ConfigError, match=words):
        load_gateway(path)


def test_poll_config_defaults_by_version(tmp_path):
    path = tmp_path / "carriers.yaml"
    path.write_text("carriers:\n  - {name: a, url: 'http://x/v2/events'}\n"
                    "  - {name: b, url: 'http://x/v3/events', version: '3.0', oauth2: "
                    "{token_url: 'http://x/token', client_id: c, client_secret: s}}\n")
    a, b = load_poll(path).carriers
    assert (a.format, a.time_param) == ("dcsa-tnt-2.2", "eventCreatedDateTime:gte")
    assert (b.format, b.time_param) == ("dcsa-tnt-3.0", "eventUpdatedDateTime:gte")
    path.write_text("carriers:\n  - {name: a, url: u, api_key: k, oauth2: {token_url: t, client_id: c, "
                    "client_secret: s}}\n")
    with pytest.raises(ConfigError, match="not both"):
        load_poll(path)


def test_unreadable_bodies():
    assert unreadable("edifact", b"  \n") == "the body is empty"
    assert "not JSON" in unreadable("dcsa-tnt-2.2", b"{nope")
    assert "not well-formed XML" in unreadable("iata-xfsu", b"<a>")
    assert unreadable("rail-events", b"train_number;x\n") is None
    assert dcsa_version_problem("dcsa-tnt-3.0", b'[{"eventID": "x", "eventType": "EQUIPMENT"}]') is not None
