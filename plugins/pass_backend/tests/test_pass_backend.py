"""The pass backend against real password-store and GnuPG: the conformance suite, first line
versus whole entry, and errors a user can act on."""

from __future__ import annotations

import pytest

from leger_core.errors import (
    DeniedError,
    InvalidInputError,
    NotFoundError,
    UnavailableError,
)
from leger_core.models import SecretValue
from leger_core.testing import SecretBackendConformance
from leger_plugin_pass.backend import PassBackend


class TestPassBackendConformance(SecretBackendConformance):
    @pytest.fixture
    def secret_backend(self, pass_store) -> PassBackend:
        return pass_store.backend()


def test_value_is_the_first_line_unless_the_whole_entry_is_asked_for(pass_store):
    pass_store.insert("ai/openai", b"sk-first-line\nlogin: me\nurl: https://x.invalid\n")
    backend = pass_store.backend()
    assert backend.get("ai/openai").reveal() == b"sk-first-line"
    assert backend.get("ai/openai#whole").reveal() == (
        b"sk-first-line\nlogin: me\nurl: https://x.invalid\n"
    )
    got = backend.get_many(["ai/openai", "ai/openai#whole", "ai/none"])
    assert got["ai/openai"].reveal() == b"sk-first-line"
    assert got["ai/openai#whole"].reveal().endswith(b"url: https://x.invalid\n")
    assert "ai/none" not in got
    # what `pass show` itself prints first is the same line
    assert pass_store.run("show", "ai/openai").stdout.splitlines()[0] == b"sk-first-line"


def test_put_writes_an_entry_pass_itself_reads(pass_store):
    pass_store.backend().put("team/anthropic", SecretValue("sk-ant-put"))
    assert pass_store.run("show", "team/anthropic").stdout == b"sk-ant-put"
    assert [i.name for i in pass_store.backend().list()] == ["team/anthropic"]


def test_unchanged_put_does_not_rewrite_the_entry(pass_store):
    backend = pass_store.backend()
    backend.put("a", SecretValue("same"))
    path = pass_store.dir / "a.gpg"
    before = path.stat().st_mtime_ns, path.read_bytes()
    backend.put("a", SecretValue("same"))
    assert (path.stat().st_mtime_ns, path.read_bytes()) == before


@pytest.mark.parametrize("name", ["../outside", "-rf", "a//b", ".hidden", "a/.git/x", "", "a b"])
def test_bad_names_are_refused_and_change_nothing(pass_store, name):
    backend = pass_store.backend()
    with pytest.raises(InvalidInputError):
        backend.put(name, SecretValue("x"))
    with pytest.raises(InvalidInputError):
        backend.get(name)
    assert backend.list() == []
    assert not (pass_store.dir.parent / "outside.gpg").exists()


def test_pass_or_gpg_not_installed_is_unavailable(pass_store):
    pass_store.insert("k", b"v")
    with pytest.raises(UnavailableError, match=r"/nonexistent/gpg.* not installed"):
        PassBackend(str(pass_store.dir), gpg="/nonexistent/gpg").get("k")
    with pytest.raises(UnavailableError, match=r"/nonexistent/pass.* not installed"):
        PassBackend(str(pass_store.dir), command="/nonexistent/pass").put("k2", SecretValue("v"))
    assert [i.name for i in pass_store.backend().list()] == ["k"]


def test_gpg_options_of_password_store_are_honoured(pass_store, monkeypatch):
    """PASSWORD_STORE_GPG_OPTS reaches the decryption, as with `pass show`."""
    pass_store.insert("k", b"v")
    monkeypatch.setenv("PASSWORD_STORE_GPG_OPTS", "--no-such-gpg-option")
    with pytest.raises(UnavailableError, match="no-such-gpg-option"):
        pass_store.backend().get("k")


def test_a_key_gnupg_does_not_have_is_denied(pass_store, tmp_path, monkeypatch):
    pass_store.insert("k", b"never-shown-7731")
    empty = tmp_path / "empty-gnupg"
    empty.mkdir(mode=0o700)
    monkeypatch.setenv("GNUPGHOME", str(empty))
    with pytest.raises(DeniedError) as info:
        pass_store.backend().get("k")
    assert "never-shown-7731" not in str(info.value)


def test_missing_entry_and_old_versions_are_not_found(pass_store):
    backend = pass_store.backend()
    with pytest.raises(NotFoundError, match="nope"):
        backend.get("nope")
    pass_store.insert("k", b"v")
    with pytest.raises(NotFoundError):
        backend.get("k", version=2)
    assert backend.get("k", version=1).reveal() == b"v"
