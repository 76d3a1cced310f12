"""Each NameRule on the container-start path must accept exactly what its regular expression
(the rule it replaced, and the one legerd or podman applies) accepts."""

from __future__ import annotations

import random
import re

import pytest

from leger_core.backends import BACKEND_NAME
from leger_core.names import NameRule
from leger_plugin_envfile.envformat import ENV_NAME
from leger_plugin_envfile.fetch import SERVICE_NAME
from leger_plugin_podman.driver import REFERENCE_TEXT, SECRET_ID, SECRET_NAME

RULES = [
    (SERVICE_NAME, r"[A-Za-z0-9_][A-Za-z0-9_.@-]{0,127}", 128),
    (ENV_NAME, r"[A-Za-z_][A-Za-z0-9_]*", 300),
    (SECRET_ID, r"[A-Za-z0-9]{1,64}", 64),
    (SECRET_NAME, r"[A-Za-z0-9_.@:+=/-]{1,256}", 256),
    (BACKEND_NAME, r"[a-z][a-z0-9_-]{0,31}", 32),
    (REFERENCE_TEXT, r"[A-Za-z0-9_.@:+=/-][A-Za-z0-9_.@:+=/#,-]{0,299}", 300),
]
# Letters, digits, every punctuation the rules name and some they do not, and non-ASCII
# letters and digits (str.isalnum() would take those; the rules must not).
ALPHABET = "aZ09_.@:+=/-- \t\n$;'\"\\*é٣ＡßK#,"


@pytest.mark.parametrize(("rule", "pattern", "longest"), RULES, ids=lambda r: str(r)[:20])
def test_rule_accepts_exactly_what_its_pattern_accepts(rule, pattern, longest):
    compiled = re.compile(pattern)
    rng = random.Random(pattern)
    samples = ["", "a", "_", "-", "9", ".x", "a" * longest, "a" * (longest + 1)]
    for _ in range(4000):
        length = rng.choice([1, 2, 3, 5, 8, longest - 1, longest, longest + 1])
        samples.append("".join(rng.choice(ALPHABET) for _ in range(max(length, 0))))
    for text in samples:
        assert rule.fullmatch(text) == bool(compiled.fullmatch(text)), (pattern, text)


def test_unbounded_rule_has_no_length_limit():
    rule = NameRule("a", "ab")
    assert rule.fullmatch("a" + "b" * 10_000)
    assert not rule.fullmatch("b")
