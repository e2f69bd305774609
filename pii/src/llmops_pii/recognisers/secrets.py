"""API keys, tokens, JWTs and private key blocks.

The provider patterns are detect-secrets' (Yelp's maintained secret scanner): the ``denylist`` of each plugin
below, taken as it is. detect-secrets has no pattern for the LLM providers' current key formats, Google API keys,
Hugging Face tokens or GitHub's fine-grained tokens: those few are added here, from the providers' documented
prefixes. A JWT is three base64url parts whose first decodes to a JSON header; a private key is the whole PEM
block (to the end of the text when its END line is missing: a truncated key is still a secret).
"""

from __future__ import annotations

import base64
import binascii
import json
import re

from detect_secrets.plugins.aws import AWSKeyDetector
from detect_secrets.plugins.azure_storage_key import AzureStorageKeyDetector
from detect_secrets.plugins.discord import DiscordBotTokenDetector
from detect_secrets.plugins.github_token import GitHubTokenDetector
from detect_secrets.plugins.gitlab_token import GitLabTokenDetector
from detect_secrets.plugins.mailchimp import MailchimpDetector
from detect_secrets.plugins.openai import OpenAIDetector
from detect_secrets.plugins.pypi_token import PypiTokenDetector
from detect_secrets.plugins.sendgrid import SendGridDetector
from detect_secrets.plugins.slack import SlackDetector
from detect_secrets.plugins.square_oauth import SquareOAuthDetector
from detect_secrets.plugins.stripe import StripeDetector
from detect_secrets.plugins.telegram_token import TelegramBotTokenDetector
from detect_secrets.plugins.twilio import TwilioKeyDetector

from llmops_pii.findings import Finding

__all__ = ["find"]

_PLUGINS = (
    AzureStorageKeyDetector,
    DiscordBotTokenDetector,
    GitHubTokenDetector,
    GitLabTokenDetector,
    MailchimpDetector,
    OpenAIDetector,
    PypiTokenDetector,
    SendGridDetector,
    SlackDetector,
    SquareOAuthDetector,
    StripeDetector,
    TelegramBotTokenDetector,
    TwilioKeyDetector,
)
_ADDED = (
    r"sk-ant-[A-Za-z0-9_-]{20,}",  # Anthropic
    r"sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{32,}",  # OpenAI's current formats
    r"AIza[0-9A-Za-z_-]{35}",  # Google API keys
    r"hf_[A-Za-z0-9]{30,}",  # Hugging Face
    r"github_pat_[A-Za-z0-9_]{60,}",  # GitHub fine-grained
    r"(?:sk|rk)_(?:live|test)_[0-9a-zA-Z]{16,}",  # Stripe, any length
    r"xox[abposr]-[A-Za-z0-9-]{10,}",  # Slack, any shape
)
_TOKENS = [pattern.pattern for plugin in _PLUGINS for pattern in plugin.denylist]
_TOKENS.append(AWSKeyDetector.denylist[0].pattern)  # the access-key id; its second pattern needs quotes around
_KEY = re.compile(r"(?<![A-Za-z0-9_])(?:" + "|".join(f"(?:{p})" for p in [*_ADDED, *_TOKENS]) + r")")
_LONG = re.compile(r"[A-Za-z0-9_+/=.:-]{20,}")
"""A run of 20 or more token characters: every key pattern needs one (prose words are shorter)."""
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*")
_PEM = re.compile(
    r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----(?:.*?-----END [A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----|.*)", re.S
)


def find(text: str) -> list[Finding]:
    found = [Finding("api_key", m.start(), m.end()) for token in _LONG.finditer(text) for m in _keys(text, token)]
    if "eyJ" in text:
        found += [Finding("jwt", m.start(), m.end()) for m in _JWT.finditer(text) if _json_header(m.group())]
    if "PRIVATE KEY" in text:
        found += [Finding("private_key", m.start(), m.end()) for m in _PEM.finditer(text)]
    return found


def _keys(text: str, token: re.Match[str]) -> list[re.Match[str]]:
    """Keys within one long token: every key is one, so text between tokens is never scanned by the patterns."""
    return list(_KEY.finditer(text, token.start(), token.end()))


def _json_header(token: str) -> bool:
    head = token.split(".", 1)[0]
    try:
        return isinstance(json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4))), dict)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return False
