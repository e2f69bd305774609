"""Each recogniser finds its type (checksums and context included) and leaves the look-alikes alone."""

from __future__ import annotations

import random

import pytest
from llmops_pii.detector import find, resolve
from llmops_pii.findings import Finding
from llmops_pii.recognisers import national_ids


def found(text: str) -> list[tuple[str, str]]:
    return [(f.type, text[f.start : f.end]) for f in find(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mail me at jane.roe+news@mail.example.co.uk.", ("email", "jane.roe+news@mail.example.co.uk")),
        ("call +44 20 7946 0958 today", ("phone", "+44 20 7946 0958")),
        ("my phone: (415) 867-5309", ("phone", "(415) 867-5309")),
        ("card 4111-1111-1111-1111 expired", ("credit_card", "4111-1111-1111-1111")),
        ("amex 378282246310005", ("credit_card", "378282246310005")),
        ("IBAN GB82 WEST 1234 5698 7654 32 please", ("iban", "GB82 WEST 1234 5698 7654 32")),
        ("SSN 123-45-6789", ("national_id", "123-45-6789")),
        ("DNI 12345678Z", ("national_id", "12345678Z")),
        ("CPF 111.444.777-35", ("national_id", "111.444.777-35")),
        ("my BSN is 111222333", ("national_id", "111222333")),
        ("blocked 203.0.113.77 twice", ("ip_address", "203.0.113.77")),
        ("from 2001:db8::8a2e:370:7334", ("ip_address", "2001:db8::8a2e:370:7334")),
        ("I was born on 14 March 1987.", ("date_of_birth", "14 March 1987")),
        ("DOB: 1990-07-04", ("date_of_birth", "1990-07-04")),
        (
            "ship to 742 Evergreen Terrace, Springfield, IL 62704",
            ("postal_address", "742 Evergreen Terrace, Springfield, IL 62704"),
        ),
        ("Lieferung: Hauptstraße 12, 10115 Berlin", ("postal_address", "Hauptstraße 12, 10115 Berlin")),
        ("I spoke with Amelia Okafor yesterday", ("person", "Amelia Okafor")),
        ("Dear Hannah, thanks", ("person", "Hannah")),
        ("key AKIAIOSFODNN7EXAMPLE leaked", ("api_key", "AKIAIOSFODNN7EXAMPLE")),
        ("token ghp_" + "a" * 36, ("api_key", "ghp_" + "a" * 36)),
        ("sk-ant-api03-" + "x" * 40, ("api_key", "sk-ant-api03-" + "x" * 40)),
    ],
)
def test_each_type_is_found(text: str, expected: tuple[str, str]) -> None:
    assert found(text) == [expected]


def test_a_jwt_needs_a_json_header_and_a_private_key_is_the_whole_block() -> None:
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjMifQ.c2lnbmF0dXJl"
    assert found(f"Bearer {jwt}") == [("jwt", jwt)]
    assert found("eyJub3QganNvbg.eyJzdWIiOiIxMjMifQ.c2ln") == []
    pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\nAAAA\n-----END RSA PRIVATE KEY-----"
    assert found(f"key:\n{pem}\nthanks") == [("private_key", pem)]
    assert found("-----BEGIN PRIVATE KEY-----\nMIIE truncated") == [
        ("private_key", "-----BEGIN PRIVATE KEY-----\nMIIE truncated")
    ]


@pytest.mark.parametrize(
    "text",
    [
        "Upgrade the SDK to 1.2.3.4 before deploying.",
        "Windows build 10.0.19041.1288 crashes.",
        "Where is my order #4111111111111111?",
        "Tracking number 4111 1111 1111 1112 (not Luhn)",
        "trace 3f2b8c1e-9a7d-4c2e-8b1f-2d3c4e5f6a7b status=500",
        "commit 4b825dc642cb6eb9a060e54bf8d69288fbee4904",
        "The job ran at 2024-03-05T10:00:00Z and at 1712345678.",
        "The meeting is on March 3, 2025 at 10:30.",
        "The server listens on 0.0.0.0:8080 and 127.0.0.1:9000.",
        "What did Barack Obama say about healthcare?",
        "Compare Marie Curie's work with Albert Einstein's.",
        "Hotels near Victoria Station in London?",
        "Is the Tesla Model 3 or the Jordan 1 better?",
        "Use Main Street as an example.",
        "Summarise Lincoln's Gettysburg Address.",
        "an SSN-like 000-12-3456 is invalid",
        "ISBN 978-3-16-148410-0 is out of print",
    ],
)
def test_hard_negatives_are_left_alone(text: str) -> None:
    assert found(text) == []


def test_overlaps_keep_one_finding_per_region() -> None:
    kept = resolve(
        [Finding("person", 0, 5), Finding("email", 0, 20), Finding("phone", 10, 15), Finding("ip_address", 30, 40)]
    )
    assert kept == [Finding("email", 0, 20), Finding("ip_address", 30, 40)]


def test_types_limit_what_is_looked_for() -> None:
    text = "jane@example.com, +44 20 7946 0958"
    assert [f.type for f in find(text, types=["phone"])] == ["phone"]


def _whole_text_scan(text: str) -> list[tuple[int, int]]:
    """The formatted national ids as one pass over the whole text finds them (before the scan near digit pairs)."""
    return [
        (m.start(), m.end())
        for m in national_ids._ONE_PASS.finditer(text)
        if m.lastgroup and national_ids._FORMATTED[m.lastgroup][1](m.group())
    ]


NATIONAL_ID_PIECES = [
    "123-45-6789", "12345678Z", "X1234567L", "111.444.777-35", "RSSMRA85T10A562S", "1 85 05 78 006 084 36",
    "2345 6789 0124", "AB 12 34 56 C", "QQ123456C", "4111", "2024", "-", ".", " ", "  ", "\n", "a", "Z", "ab",
    "Mr Smith", "ssn", "x7", "99", "0", "é",
]  # fmt: skip


@pytest.mark.parametrize("seed", range(40))
def test_national_ids_scan_only_near_digit_pairs_and_find_what_a_whole_text_scan_finds(seed: int) -> None:
    pick = random.Random(seed)
    for _ in range(50):
        text = "".join(pick.choice(NATIONAL_ID_PIECES) for _ in range(pick.randint(1, 60)))
        by_keyword = national_ids._after_keywords(text) if national_ids._ANY_KEYWORD.search(text.lower()) else []
        expected = _whole_text_scan(text) + [(f.start, f.end) for f in by_keyword]
        assert [(f.start, f.end) for f in national_ids.find(text)] == expected, text
