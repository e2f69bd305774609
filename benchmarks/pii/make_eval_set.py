"""Writes the PII evaluation set (benchmarks/data/pii_eval.jsonl): labelled texts, half held out.

The set was generated ONCE with this script, committed, and frozen before the redaction engine was tuned:
the committed file, not a re-run, is the reference (its SHA-256 is in docs/pii.md). The script stays as the
record of how it was made. Values are built here, independently of the engine: names and addresses are written
by hand below (not drawn from the name lists the engine uses), check digits are computed from their definitions.
The labelling rules are in docs/pii.md ("Labelling rules").

Each line: ``{"id", "split": "dev"|"held", "text", "labels": [{"type", "value"}]}``; ``value`` occurs in
``text``; a text without labels is a negative (many are hard negatives: versions, order numbers, UUIDs, hashes,
timestamps, product and place names, public figures as topics).
"""

from __future__ import annotations

import base64
import json
import random
import string
import sys
from pathlib import Path

import phonenumbers

OUT = Path(__file__).resolve().parents[1] / "data" / "pii_eval.jsonl"
PER_TYPE = 44
rng = random.Random(20261205)

FIRST = """Amelia Oliver Priya Mateo Sofia Liam Aisha Noah Ingrid Kenji Fatima Lucas Chloe Tomasz Ananya Diego
Hannah Ravi Elena Jonas Mei Samuel Leila Mohammed Grace Arjun Zoe Pierre Ngozi Erik Valentina Hiroshi Olga
Daniel Yusuf Clara Kwame Isabel Marco Sarah Dmitri Nadia Patrick Camille Joaquin Freya Omar Lena Rafael""".split()  # noqa: SIM905 (a readable list of names)
LAST = """Whitfield Okafor Lindqvist Ramirez Kowalski Nakamura Haddad Brennan Petrov Sharma Fitzgerald Moreau
Delgado Novak Achterberg Osei Castellano Yamamoto Gallagher Rahman Bianchi Eriksen Mwangi Schreiber Dubois
Ferreira Abernathy Kaczmarek Iyer Vasquez Thornbury Holmgren Adeyemi Lefebvre Marchetti Obi Szabo""".split()  # noqa: SIM905
DOMAINS = [
    "gmail.com",
    "outlook.com",
    "yahoo.co.uk",
    "proton.me",
    "web.de",
    "orange.fr",
    "acme-corp.io",
    "uni-heidelberg.de",
    "mail.ru",
    "hotmail.es",
    "icloud.com",
    "company.com.au",
]
STREETS_US = [
    "Maple Avenue",
    "Oak Street",
    "Elm St",
    "Sunset Blvd",
    "Lakeview Drive",
    "Cedar Lane",
    "Willow Court",
    "Pine Road",
    "Harbor Way",
    "Chestnut Pl",
]
CITIES_US = [
    ("Springfield", "IL", "62704"),
    ("Portland", "OR", "97205"),
    ("Austin", "TX", "78701"),
    ("Columbus", "OH", "43215"),
    ("Boulder", "CO", "80302"),
    ("Madison", "WI", "53703"),
]
UK = [
    ("Baker Street", "London", "NW1 6XE"),
    ("Queen's Road", "Brighton", "BN1 3XE"),
    ("High Street", "Oxford", "OX1 4AP"),
    ("Deansgate", "Manchester", "M3 4LQ"),
]
DE = [
    ("Hauptstraße", "10115", "Berlin"),
    ("Lindenweg", "80331", "München"),
    ("Schillerstraße", "50667", "Köln"),
    ("Goethestrasse", "60313", "Frankfurt am Main"),
]
FR = [
    ("rue de la Paix", "75002", "Paris"),
    ("avenue Jean Jaurès", "69007", "Lyon"),
    ("boulevard Victor Hugo", "06000", "Nice"),
]


def digits(n: int) -> str:
    return "".join(rng.choice(string.digits) for _ in range(n))


def person() -> str:
    return f"{rng.choice(FIRST)} {rng.choice(LAST)}"


def luhn_complete(partial: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(partial)):
        d = int(ch)
        if i % 2 == 0:
            d = d * 2 - 9 if d * 2 > 9 else d * 2
        total += d
    return partial + str((10 - total % 10) % 10)


def email() -> str:
    first, last = rng.choice(FIRST).lower(), rng.choice(LAST).lower()
    local = rng.choice([f"{first}.{last}", f"{first[0]}{last}{rng.randint(1, 99)}", f"{first}_{last}+news", last])
    return f"{local}@{rng.choice(DOMAINS)}"


def phone() -> str:
    forms = [
        lambda: f"+1 {rng.choice(['415', '212', '617', '303'])} {rng.randint(200, 989)} {digits(4)}",
        lambda: f"({rng.choice(['415', '312', '646', '206'])}) {rng.randint(200, 989)}-{digits(4)}",
        lambda: f"+44 20 7{digits(3)} {digits(4)}",
        lambda: f"+44 7{rng.choice(['700', '911', '812'])} {digits(6)}",
        lambda: f"+49 30 {digits(8)}",
        lambda: f"+49 151 {digits(8)}",
        lambda: f"+33 6 {digits(2)} {digits(2)} {digits(2)} {digits(2)}",
        lambda: f"+91 98{digits(3)} {digits(5)}",
        lambda: f"+81 90-{digits(4)}-{digits(4)}",
        lambda: f"+55 11 9{digits(4)}-{digits(4)}",
        lambda: f"+61 4{digits(2)} {digits(3)} {digits(3)}",
        lambda: f"+34 6{digits(2)} {digits(3)} {digits(3)}",
    ]
    while True:  # labelling rule: a phone number is one libphonenumber's metadata calls valid (dialable)
        number = rng.choice(forms)()
        if phonenumbers.is_valid_number(phonenumbers.parse(number, "US")):
            return number


def card() -> str:
    prefix, length = rng.choice([("4", 16), ("51", 16), ("55", 16), ("2221", 16), ("37", 15), ("6011", 16)])
    number = luhn_complete(prefix + digits(length - len(prefix) - 1))
    style = rng.choice(["space", "dash", "none"])
    if style == "none":
        return number
    groups = [number[:4], number[4:10], number[10:]] if length == 15 else [number[i : i + 4] for i in (0, 4, 8, 12)]
    return (" " if style == "space" else "-").join(groups)


def iban() -> str:
    country, bban_len = rng.choice([("DE", 18), ("GB", 18), ("FR", 23), ("NL", 14), ("ES", 20), ("IT", 23)])
    if country == "GB":
        bban = rng.choice(["NWBK", "BARC", "MIDL"]) + digits(14)
    elif country == "NL":
        bban = rng.choice(["ABNA", "INGB", "RABO"]) + digits(10)
    elif country == "IT":
        bban = rng.choice(string.ascii_uppercase) + digits(22)
    else:
        bban = digits(bban_len)
    numeric = "".join(str(int(c, 36)) for c in bban + country + "00")
    check = 98 - int(numeric) % 97
    value = f"{country}{check:02d}{bban}"
    if rng.random() < 0.6:
        value = " ".join(value[i : i + 4] for i in range(0, len(value), 4))
    return value


def ssn() -> str:
    area = rng.choice([n for n in range(1, 900) if n != 666])
    return f"{area:03d}-{rng.randint(1, 99):02d}-{rng.randint(1, 9999):04d}"


def dni() -> str:
    number = rng.randint(10_000_000, 99_999_999)
    return f"{number}{'TRWAGMYFPDXBNJZSQVHLCKE'[number % 23]}"


def cpf() -> str:
    base = [rng.randint(0, 9) for _ in range(9)]
    for weight_start in (10, 11):
        total = sum(d * w for d, w in zip(base, range(weight_start, 1, -1), strict=False))
        base.append(0 if total % 11 < 2 else 11 - total % 11)
    s = "".join(map(str, base))
    return f"{s[:3]}.{s[3:6]}.{s[6:9]}-{s[9:]}"


def sin() -> str:
    s = luhn_complete(rng.choice("1234567") + digits(7))
    return f"{s[:3]} {s[3:6]} {s[6:]}"


def bsn() -> str:
    while True:
        ds = [rng.randint(0, 9) for _ in range(8)]
        total = sum(d * w for d, w in zip(ds, range(9, 1, -1), strict=True))
        last = total % 11
        if last < 10 and ds[0] != 0:
            return "".join(map(str, ds)) + str(last)


def national_id() -> tuple[str, str]:
    kind = rng.choice(["ssn", "ssn", "ssn", "dni", "cpf", "sin", "bsn"])
    lead = {
        "ssn": rng.choice(["SSN", "social security number", "SSN:"]),
        "dni": "DNI",
        "cpf": "CPF",
        "sin": "SIN",
        "bsn": "BSN",
    }[kind]
    value = {"ssn": ssn, "dni": dni, "cpf": cpf, "sin": sin, "bsn": bsn}[kind]()
    return lead, value


def ipv4() -> str:
    return rng.choice(
        [
            f"{rng.randint(11, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
            f"192.168.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
            f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
        ]
    )


def ip() -> str:
    if rng.random() < 0.3:
        groups = [f"{rng.randint(0, 0xFFFF):x}" for _ in range(4)]
        return rng.choice([f"2001:db8:{':'.join(groups)}::{rng.randint(1, 0xFFF):x}", f"fe80::{':'.join(groups)}"])
    return ipv4()


MONTHS = "January February March April May June July August September October November December".split()  # noqa: SIM905


def dob() -> tuple[str, str]:
    y, m, d = rng.randint(1940, 2008), rng.randint(1, 12), rng.randint(1, 28)
    value = rng.choice(
        [
            f"{y}-{m:02d}-{d:02d}",
            f"{m:02d}/{d:02d}/{y}",
            f"{d} {MONTHS[m - 1]} {y}",
            f"{MONTHS[m - 1]} {d}, {y}",
            f"{d:02d}.{m:02d}.{y}",
        ]
    )
    lead = rng.choice(["born on", "DOB:", "date of birth", "D.O.B.", "birthday is", "was born", "Geburtsdatum:"])
    return lead, value


def address() -> str:
    kind = rng.choice(["us", "us", "uk", "de", "fr"])
    if kind == "us":
        city, state, zipc = rng.choice(CITIES_US)
        unit = rng.choice(["", f", Apt {rng.randint(1, 30)}{rng.choice('ABC')}"])
        return f"{rng.randint(10, 9999)} {rng.choice(STREETS_US)}{unit}, {city}, {state} {zipc}"
    if kind == "uk":
        street, city, post = rng.choice(UK)
        return f"{rng.randint(1, 250)} {street}, {city} {post}"
    if kind == "de":
        street, post, city = rng.choice(DE)
        return f"{street} {rng.randint(1, 120)}, {post} {city}"
    street, post, city = rng.choice(FR)
    return f"{rng.randint(1, 80)} {street}, {post} {city}"


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def jwt() -> str:
    header = b64url(json.dumps({"alg": rng.choice(["HS256", "RS256"]), "typ": "JWT"}).encode())
    claims = {"sub": digits(8), "name": person(), "iat": 1_700_000_000 + rng.randint(0, 10**7)}
    return f"{header}.{b64url(json.dumps(claims).encode())}.{b64url(rng.randbytes(32))}"


def alnum(n: int, alphabet: str = string.ascii_letters + string.digits) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def api_key() -> str:
    return rng.choice(
        [
            lambda: "AKIA" + alnum(16, string.ascii_uppercase + string.digits),
            lambda: "ghp_" + alnum(36),
            lambda: "github_pat_" + alnum(22) + "_" + alnum(59),
            lambda: "glpat-" + alnum(20),
            lambda: "xoxb-" + digits(11) + "-" + digits(12) + "-" + alnum(24).lower(),
            lambda: "sk_live_" + alnum(24),
            lambda: "sk-proj-" + alnum(48, string.ascii_letters + string.digits + "_-"),
            lambda: "sk-ant-api03-" + alnum(93, string.ascii_letters + string.digits + "_-") + "AA",
            lambda: "AIza" + alnum(35, string.ascii_letters + string.digits + "_-"),
            lambda: "hf_" + alnum(34, string.ascii_letters),
            lambda: "SG." + alnum(22) + "." + alnum(43),
        ]
    )()


def private_key() -> str:
    kind = rng.choice(["RSA ", "EC ", "OPENSSH ", ""])
    body = "\n".join(alnum(64, string.ascii_letters + string.digits + "+/") for _ in range(rng.randint(2, 5)))
    return f"-----BEGIN {kind}PRIVATE KEY-----\n{body}\n-----END {kind}PRIVATE KEY-----"


POSITIVE = {
    "email": [
        "Please send the invoice to {v} by Friday.",
        "my email is {v}, can you summarise my last three orders?",
        "Contact: {v}",
        "Forward this thread to {v} and cc the team.",
        "The user {v} reported that the export fails on version 2.4.1.",
        "Reply-To: {v}\nSubject: refund request for order #884213",
    ],
    "phone": [
        "Call me back at {v} after 5pm.",
        "My phone number is {v}",
        "Customer reachable on {v} (mobile).",
        "tel: {v}",
        "Can you text {v} when the package ships?",
        "WhatsApp {v} for the delivery window.",
    ],
    "credit_card": [
        "My card number is {v}, expiry 09/27.",
        "Charge {v} for the annual plan.",
        "payment failed for card {v}",
        "Visa {v} was declined at checkout",
        "Use the card ending in this number: {v}",
    ],
    "iban": [
        "Please wire the refund to IBAN {v}.",
        "Bank details: {v} (account holder on file)",
        "Überweisung an {v} bitte bis Montag.",
        "my account is {v}, why was the transfer rejected?",
        "IBAN: {v}",
    ],
    "national_id": [
        "My {lead} is {v}.",
        "{lead} {v} - please update the tax form",
        "Applicant {lead}: {v}",
        "verify identity with {lead} {v} before the payout",
    ],
    "ip_address": [
        "Login attempt from {v} was blocked.",
        "The client at {v} keeps timing out.",
        "ssh admin@{v} fails with permission denied",
        "My home IP is {v}, please whitelist it.",
        "Request came from {v} at 03:14 UTC.",
    ],
    "date_of_birth": [
        "I was {lead} {v} and need to update my profile.",
        "Patient record - {lead} {v}",
        "{lead} {v}; insurance class B",
        "Her {lead} {v}, please double-check the policy.",
    ],
    "postal_address": [
        "Ship it to {v}, please.",
        "My new address is {v}.",
        "Billing address: {v}",
        "I live at {v} and the parcel never arrived.",
        "Lieferadresse: {v}",
    ],
    "person": [
        "I spoke with {v} yesterday about the delayed shipment.",
        "My name is {v} and I cannot log in.",
        "Dear {v},\nthank you for your message.",
        "Please assign the ticket to {v}.",
        "{v} called twice about the refund.",
        "Regards,\n{v}",
        "Summarise the complaint from {v} in two sentences.",
        "The tenant {v} paid the rent late again.",
    ],
    "api_key": [
        "here's my key {v} why does it return 401?",
        "export API_KEY={v}",
        "Authorization: Bearer {v}",
        "config.yaml:\n  token: {v}\n  region: eu-west-1",
        "I accidentally committed {v} to the repo, how do I rotate it?",
    ],
    "jwt": [
        "Authorization: Bearer {v}",
        "the session token {v} expired too early",
        "decode this JWT for me: {v}",
        "cookie: id_token={v}; Path=/",
    ],
    "private_key": [
        "Why does ssh reject this key?\n{v}",
        "{v}\nis this the right format for the deploy key?",
        "Here is the service account key:\n{v}\nplease configure it",
    ],
}
VALUES = {
    "email": email,
    "phone": phone,
    "credit_card": card,
    "iban": iban,
    "ip_address": ip,
    "postal_address": address,
    "person": person,
    "api_key": api_key,
    "jwt": jwt,
    "private_key": private_key,
}


def hex_string(n: int) -> str:
    return "".join(rng.choice("0123456789abcdef") for _ in range(n))


def uuid() -> str:
    h = hex_string(32)
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"


def version() -> str:
    return rng.choice(
        [
            f"{rng.randint(0, 12)}.{rng.randint(0, 40)}.{rng.randint(0, 30)}",
            f"v{rng.randint(1, 9)}.{rng.randint(0, 20)}.{rng.randint(0, 9)}",
            f"{rng.randint(1, 9)}.{rng.randint(0, 9)}.{rng.randint(0, 9)}.{rng.randint(0, 9)}",
            f"10.0.{rng.randint(17000, 22631)}.{rng.randint(1, 4000)}",
        ]
    )


def timestamp() -> str:
    y, mo, d = rng.randint(2019, 2026), rng.randint(1, 12), rng.randint(1, 28)
    h, mi, s = rng.randint(0, 23), rng.randint(0, 59), rng.randint(0, 59)
    return rng.choice(
        [
            f"{y}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:{s:02d}Z",
            f"{y}-{mo:02d}-{d:02d} {h:02d}:{mi:02d}",
            str(rng.randint(1_600_000_000, 1_800_000_000)),
            f"{d:02d}/{mo:02d}/{y} {h:02d}:{mi:02d}",
        ]
    )


NEGATIVE = [
    lambda: f"Upgrade the SDK to {version()} before deploying.",
    lambda: f"Build {version()} fixed the memory leak in the parser.",
    lambda: f"Python {rng.randint(3, 3)}.{rng.randint(8, 13)}.{rng.randint(0, 9)} is required; numpy {version()} too.",
    lambda: f"Windows build {version()} crashes on start.",
    lambda: f"Where is my order #{digits(rng.choice([6, 8, 10, 12]))}? It was due yesterday.",
    lambda: f"Order number {digits(16)} shows as shipped but tracking says otherwise.",
    lambda: f"Tracking: 1Z{alnum(16, string.ascii_uppercase + string.digits)}, invoice INV-{digits(7)}.",
    lambda: f"Ticket {rng.choice(['JIRA', 'OPS', 'SUP'])}-{digits(5)} is blocked by request {uuid()}.",
    lambda: f"trace_id={uuid()} span={hex_string(16)} status=500",
    lambda: f"The commit {hex_string(40)} broke the build.",
    lambda: f"sha256: {hex_string(64)}",
    lambda: f"Cache key {hex_string(32)} missed at {timestamp()}.",
    lambda: f"The job ran at {timestamp()} and finished at {timestamp()}.",
    lambda: f"Logs from {timestamp()}: 3 retries, latency 245 ms, p95 1,204 ms.",
    lambda: f"The meeting is on {rng.choice(MONTHS)} {rng.randint(1, 28)}, 2025 at 10:30 in room 4.12.",
    lambda: f"The product launched on {rng.randint(2000, 2024)}-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}.",
    lambda: f"Invoice total: ${rng.randint(1, 999)},{digits(3)}.{digits(2)} due 2025-12-31.",
    lambda: f"Error code 0x{hex_string(8).upper()} when installing update KB{digits(7)}.",
    lambda: f"ISBN 978-{rng.randint(0, 1)}-{digits(3)}-{digits(5)}-{rng.randint(0, 9)} is out of print.",
    lambda: f"The server listens on 0.0.0.0:{rng.randint(1024, 65535)} and 127.0.0.1:{rng.randint(1024, 65535)}.",
    lambda: f"Coordinates 48.{digits(4)}, 2.{digits(4)} are in central Paris.",
    lambda: f"Set max_tokens to {rng.randint(100, 4096)} and temperature to 0.{rng.randint(1, 9)}.",
    lambda: "Use the placeholder YOUR_API_KEY or sk-... in the docs, never a real key.",
    lambda: f"The model id is {rng.choice(['gpt-4o-2024-08-06', 'claude-3-5-sonnet-20241022', 'gemini-1.5-pro-002'])}.",
    lambda: f"Part number {alnum(3, string.ascii_uppercase)}-{digits(4)}-{digits(2)} is backordered.",
    lambda: f"Table 3 shows {rng.randint(10, 99)}.{digits(1)} % accuracy on {digits(5)} samples.",
]
NEGATIVE_FIXED = """What did Barack Obama say about healthcare in his 2010 speech?
Summarise Marie Curie's contributions to chemistry.
Is Taylor Swift's Eras Tour the highest-grossing tour ever?
Compare Elon Musk's and Jeff Bezos's space programmes.
Write a poem in the style of Emily Dickinson.
Explain Albert Einstein's theory of special relativity to a child.
Why did Napoleon Bonaparte invade Russia?
What is Serena Williams's record at Wimbledon?
Give me three quotes by Martin Luther King Jr.
How did Ada Lovelace contribute to computing?
Who painted the Mona Lisa, Leonardo da Vinci or Michelangelo?
Tell me about Nelson Mandela's presidency.
Is Lionel Messi better than Cristiano Ronaldo?
What was Steve Jobs's role at Pixar?
Summarise the plot of Harry Potter and the Philosopher's Stone.
Sherlock Holmes lives at a famous address in London; which one?
What did Angela Merkel do during the 2015 refugee crisis?
List the novels of Jane Austen in order.
Is the iPhone 15 Pro worth upgrading to from the iPhone 12?
My Tesla Model 3 shows a charging error after the update.
Should I buy the Dell XPS 13 or the MacBook Air M3?
Alexa keeps playing the wrong playlist.
The Ford Mustang Mach-E has a range problem in winter.
Is Jordan 1 Retro High a good running shoe?
Does Claude or Gemini handle long documents better?
Hotels near Victoria Station in London under 150 pounds?
What is the weather like in Jackson, Mississippi in April?
Best restaurants in Florence near the Uffizi?
How far is Austin, Texas from Houston?
Plan a three-day trip to Washington, D.C. with kids.
Is Paris Charles de Gaulle or Orly closer to the city?
What are the opening hours of Central Park Zoo?
Explain how the Amazon River floods every year.
Georgia and Virginia both border North Carolina, right?
Translate "good morning" into Portuguese, Spanish and German.
Recommend a lasagne recipe for eight people.
The quarterly report is due at the end of March.
Our office moved to a new building on the campus last year.
Refactor this function to use a dictionary instead of if/else chains.
The API returns 429 when we exceed 60 requests per minute.
Use Main Street as an example name in the tutorial.
Victoria Falls is on the border of Zambia and Zimbabwe.
Reset the router and wait 30 seconds before reconnecting.
Why is my Kafka consumer lag growing on partition 7?
Write SQL that groups orders by month and counts them.
Describe the difference between TCP and UDP in one paragraph.
How do I format a date as YYYY-MM-DD in Python?
The sprint review is every second Thursday.
What is the capital of Australia: Sydney or Canberra?
Summarise Lincoln's Gettysburg Address.""".split("\n")  # noqa: SIM905


def positive(kind: str) -> tuple[str, list[dict[str, str]]]:
    template = rng.choice(POSITIVE[kind])
    if kind == "national_id":
        lead, value = national_id()
    elif kind == "date_of_birth":
        lead, value = dob()
    else:
        lead, value = "", VALUES[kind]()
    text = template.format(v=value, lead=lead)
    labels = [{"type": kind, "value": value}]
    if rng.random() < 0.3:
        text += " " + rng.choice(NEGATIVE)()
    return text, labels


def build() -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for kind in [*POSITIVE]:
        for i in range(PER_TYPE):
            text, labels = positive(kind)
            rows.append(
                {"id": f"{kind}-{i:03d}", "split": "dev" if i % 2 == 0 else "held", "text": text, "labels": labels}
            )
    negatives = [make() for make in NEGATIVE for _ in range(6)] + NEGATIVE_FIXED
    rng.shuffle(negatives)
    for i, text in enumerate(negatives):
        rows.append({"id": f"negative-{i:03d}", "split": "dev" if i % 2 == 0 else "held", "text": text, "labels": []})
    for row in rows:
        for label in row["labels"]:  # type: ignore[attr-defined]
            assert label["value"] in row["text"], row
    return rows


def main() -> None:
    if OUT.exists() and "--force" not in sys.argv:
        raise SystemExit(f"{OUT} exists and is frozen; it is the reference (pass --force only to rebuild it)")
    rows = build()
    OUT.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))
    print(f"wrote {len(rows)} texts to {OUT}")


if __name__ == "__main__":
    main()
