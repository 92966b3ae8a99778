"""Every way a plausible app reads a body that is not plain JSON: the targets are the union
of the readings, so whichever the app picks, ours include it."""

from __future__ import annotations

import pytest

from safe_accounts.pipeline.body import Body
from safe_accounts.pipeline.readings import form_readings, json_readings, multipart_part_read_otherwise, read_every_way
from safe_accounts.pipeline.request_view import NO_JSON, BodyNotParsed


def body(data: bytes, content_type: str = "text/plain", charset: str | None = None) -> Body:
    return Body(data, content_type, charset, data)


def test_a_body_of_any_declared_type_is_read_as_json_and_as_a_form() -> None:
    first, others, form = read_every_way(body(b'{"to": "ann"}'), None)
    assert first == {"to": "ann"} and others == ()
    assert form == [('{"to": "ann"}', "")]  # a form reading of it names no `to`


def test_a_declared_charset_and_the_detected_one_each_give_their_reading() -> None:
    text = '{"to": "zoë"}'
    # Latin-1 bytes declared as Latin-1: a charset-honouring app reads `zoë`, `json.loads`
    # (UTF-8 by detection) cannot decode them at all.
    assert json_readings(body(text.encode("latin-1"), "application/json", "latin-1"), None) == [{"to": "zoë"}]
    # UTF-8 bytes declared as Latin-1: two different texts, two documents.
    both = json_readings(body(text.encode("utf-8"), "application/json", "latin-1"), None)
    assert {"to": "zoë"} in both and {"to": "zoÃ«"} in both


def test_a_body_typed_as_json_that_no_reading_parses_is_refused() -> None:
    with pytest.raises(BodyNotParsed, match="not valid JSON"):
        read_every_way(body(b"to=ann", "application/json"), None)
    first, _, form = read_every_way(body(b"to=ann", "text/plain"), None)
    assert first is NO_JSON and form == [("to", "ann")]


def test_json_nested_past_what_we_can_read_is_refused_whatever_its_type() -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    with pytest.raises(BodyNotParsed, match="too deeply"):
        read_every_way(body(deep, "text/plain"), None)


def test_a_form_is_read_as_starlette_reads_it_and_as_utf_8() -> None:
    fields = form_readings(body("to=zoë".encode()))
    assert ("to", "zoë") in fields  # UTF-8
    assert ("to", "zoÃ«") in fields  # Latin-1, as Starlette decodes the bytes
    assert form_readings(body(b"to=ann&to=bo")) == [("to", "ann"), ("to", "bo")]


def _part(*lines: str) -> bytes:
    return b"--XyZ\r\n" + "".join(f"{line}\r\n" for line in lines).encode() + b"\r\nhi\r\n--XyZ--\r\n"


@pytest.mark.parametrize(
    ("charset", "data", "why"),
    [
        ("utf-16", _part('Content-Disposition: form-data; name="to"'), "charset"),
        (None, _part('Content-Disposition: form-data; name="to"', "Content-Transfer-Encoding: base64"), "transfer"),
        (None, _part('Content-Disposition: form-data; name="to"', "Content-Type: text/plain;charset=utf-7"), "charset"),
        (None, _part("Content-Disposition: form-data; name*=UTF-8''to"), "name"),
        (None, _part('Content-Disposition: form-data; name="x"; name="to"'), "name"),
        (None, _part('Content-Disposition: form-data; name=" to"'), "name"),
        (None, _part('Content-Disposition: form-data; name="t%22o"'), "name"),
        (None, _part("Content-Disposition: form-data; name=to,"), "name"),
        (None, _part("Content-Disposition: form-data; name=to x"), "name"),
        (None, _part('Content-Disposition: form-data; name="t\\"o"'), "name"),
        (None, _part('Content-Disposition: attachment; name="to"'), "name"),
        (None, _part('Content-Disposition: form-data; name="to"', 'Content-Disposition: form-data; name="x"'), "name"),
    ],
)
def test_a_multipart_part_other_parsers_read_otherwise_is_named(charset: str | None, data: bytes, why: str) -> None:
    assert why in (multipart_part_read_otherwise(data, b"XyZ", charset) or "")


@pytest.mark.parametrize(
    "lines",
    [
        ['Content-Disposition: form-data; name="to"'],
        ["content-disposition: form-data; name=to"],
        ['Content-Disposition: form-data; name="to"; filename="a b.png"', "Content-Type: image/png"],
        ['Content-Disposition: form-data; name="to"', "Content-Type: text/plain; charset=UTF-8"],
        ['Content-Disposition: form-data; name="to"', "Content-Transfer-Encoding: 8bit"],
        ['Content-Disposition: form-data ; name="zoë"; filename="a%22b.png";'],
    ],
)
def test_a_multipart_part_as_clients_write_it_reads_alike(lines: list[str]) -> None:
    assert multipart_part_read_otherwise(_part(*lines), b"XyZ", "utf-8") is None
