"""A SecretValue never shows its value by accident."""

from __future__ import annotations

import logging
import pickle
import traceback

import pytest

from leger_core.models import InjectResult, SecretValue

VALUE = "sk-live-do-not-show-123"


def test_repr_str_format_and_fstring_hide_the_value():
    secret = SecretValue(VALUE)
    for shown in (
        repr(secret),
        str(secret),
        f"{secret}",
        f"{secret!r}",
        "%s" % secret,  # noqa: UP031 -- %-formatting is what logging uses
        f"{secret:>30}",
    ):
        assert VALUE not in shown
        assert "****" in shown
    assert VALUE not in repr([secret, {"k": secret}])


def test_reveal_returns_the_bytes_and_text():
    secret = SecretValue(VALUE)
    assert secret.reveal() == VALUE.encode()
    assert secret.reveal_text() == VALUE
    assert len(secret) == len(VALUE)


def test_non_utf8_error_does_not_include_the_value():
    with pytest.raises(ValueError) as info:
        SecretValue(b"\xff\xfe" + VALUE.encode()).reveal_text()
    assert VALUE not in str(info.value)


def test_logging_and_tracebacks_do_not_show_it(caplog):
    secret = SecretValue(VALUE)
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("t").info("value is %s / %r", secret, secret)
    assert VALUE not in caplog.text
    try:
        raise RuntimeError(f"failed with {secret}")
    except RuntimeError:
        assert VALUE not in traceback.format_exc()


def test_cannot_be_pickled():
    with pytest.raises(TypeError):
        pickle.dumps(SecretValue(VALUE))


def test_equality_compares_values():
    assert SecretValue("a") == SecretValue(b"a")
    assert SecretValue("a") != SecretValue("b")


def test_inject_result_holds_names_not_values():
    result = InjectResult(service="s", strategy="envfile", location="/x", names=["A"])
    assert "A" in repr(result)
