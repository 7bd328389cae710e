"""manifests/jinja.py: yaml_string writes any text as a YAML scalar that reads back unchanged."""

from __future__ import annotations

import json

import pytest
import yaml

from proxshift.manifests.jinja import yaml_string

TEXTS = [
    "plain",
    "it's",
    "key: value # comment?",
    "{{ x }} *a &b !c |d >e",
    "multi\nline\n",
    "ssh-ed25519 AAAA one 🚀\nssh-ed25519 AAAA two ✓",
    "\x00\x01\x7f\x85\xa0\u2028\u2029\ufeff\ufffe",
    '\t\r\b\f\\"',
    "𝄞 astral alone",
    "",
]


@pytest.mark.parametrize("text", TEXTS)
def test_reads_back_unchanged(text: str) -> None:
    assert yaml.safe_load(f"key: {yaml_string(text)}\nnext: 1\n") == {"key": text, "next": 1}


def test_one_printable_line_is_single_quoted() -> None:
    assert yaml_string("it's: #1") == "'it''s: #1'"


def test_other_text_is_double_quoted_as_json_writes_it() -> None:
    """Kept identical to json.dumps within the BMP, so manifests written before read the same."""
    assert yaml_string("a\nb\tü\u2028") == json.dumps("a\nb\tü\u2028")


def test_characters_beyond_the_bmp_keep_one_escape() -> None:
    """json.dumps would write a surrogate pair, which YAML reads as two broken characters."""
    assert yaml_string("a\n🚀") == '"a\\n\\U0001f680"'
