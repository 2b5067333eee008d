"""A consumer decodes a JSON body with orjson and gives what kombu's own decoding gives; what
orjson refuses, or another content type, still goes through kombu (and its refusals)."""
import json

import pytest
from kombu.exceptions import ContentDisallowed, DecodeError
from kombu.message import Message

from cdht.consumer import decoded_body

JSON = "application/json"


def message(body, content_type=JSON, encoding="utf-8", accept=None):
    return Message(body=body, content_type=content_type, content_encoding=encoding,
                   accept=accept)


@pytest.mark.parametrize("body", [
    {"event_id": "0b0f8a8e-6d1c-4a53-9b8a-1e0f2a3b4c5d", "data": {"year": 2025,
                                                                  "score": 85.5}},
    {"unicode": "Công dân học tập", "nested": [1, [2, {"x": None}], True, False]},
    [], "a string", 12,
])
def test_same_body_as_kombu(body):
    raw = json.dumps(body, ensure_ascii=False).encode()
    assert decoded_body(message(raw)) == message(raw).decode() == body


@pytest.mark.parametrize("raw", [b'{"a": NaN}', b'{"a": "\\ud800"}', b'{"a": 1e400}'])
def test_what_orjson_refuses_is_decoded_as_kombu_decodes_it(raw):
    got = decoded_body(message(raw))
    assert json.dumps(got) == json.dumps(message(raw).decode())


def test_an_undecodable_body_still_raises_kombus_error():
    with pytest.raises(DecodeError):
        decoded_body(message(b'{"a": '))


def test_a_content_type_not_accepted_is_refused_as_before():
    with pytest.raises(ContentDisallowed):
        decoded_body(message(b"{}", accept={"application/x-yaml"}))


def test_a_huge_integer_becomes_a_float_which_a_strict_contract_refuses():
    from cdht.contracts import ContractError, make_envelope, parse_envelope
    from tests.unit.cdht.test_contracts import VALID
    wire = make_envelope("recognition_granted", VALID[("recognition_granted", 1)](),
                         producer="assessment").to_message()
    wire["data"]["total_score"] = 10 ** 30
    body = decoded_body(message(json.dumps(wire).encode()))
    with pytest.raises(ContractError):
        parse_envelope(body)
