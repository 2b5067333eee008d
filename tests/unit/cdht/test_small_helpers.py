import pytest

from cdht.redact import redact


@pytest.mark.parametrize("text, expected", [
    ("Key (national_id)=(089085000123) already exists",
     "Key (national_id)=(***23) already exists"),
    ("{'an.nguyen@example.org': (550, b'no such user')}", "{'a***@example.org': (550, b'no such user')}"),
    ("call +84 912 345 678 now", "call ***78 now"),
    ("year 2025, score 85, unit AG.LX", "year 2025, score 85, unit AG.LX"),
    ("uuid 5dc82f0f-c8c0-46cd-99b8-969d9fe68a6f", "uuid 5dc82f0f-c8c0-46cd-99b8-969d9fe68a6f"),
])
def test_personal_data_is_masked(text, expected):
    assert redact(text) == expected


def test_loading_a_service_config_leaves_pyyaml_alone(monkeypatch):
    """load_config substitutes ${VAR}; plain yaml.safe_load elsewhere must not start to."""
    import yaml

    from cdht.config import load_config
    monkeypatch.setenv("AMQP_URI", "amqp://elsewhere/")
    assert load_config("registry")["AMQP_URI"] == "amqp://elsewhere/"
    assert yaml.safe_load("image: ${AMQP_URI:-x}") == {"image": "${AMQP_URI:-x}"}
