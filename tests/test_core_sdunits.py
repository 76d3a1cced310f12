"""leger_core.sdunits: what legerd's and leger-server's install commands share (the sandbox,
rendering, where a unit goes, writing it)."""

from __future__ import annotations

import stat
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from leger_core.sdunits import (
    HARDENING,
    SYSTEM_UNIT_DIR,
    UnitWriteError,
    dir_option,
    dry_run_option,
    print_or_write,
    render_unit,
    start_hint,
    unit_dir,
    write_unit,
)

TEMPLATE = (
    "# for {where}\nExecStart={exec_start} serve --x {x}\nDocumentation={docs}\n{hardening}\n"
)


def test_render_unit_fills_the_shared_fields_and_the_daemons_own() -> None:
    text = render_unit(
        TEMPLATE,
        ["/opt/a%b/bin/d"],
        docs="https://example.invalid/d",
        protect_home_value="yes",
        tmp_binds_value=[],
        x="7",
    )
    lines = text.splitlines()
    assert lines[0] == "# for /opt/a%b/bin/d"
    assert lines[1] == "ExecStart=/opt/a%%b/bin/d serve --x 7"  # % escaped for systemd
    assert "Documentation=https://example.invalid/d" in lines
    assert "ProtectHome=yes" in lines and "PrivateTmp=yes" in lines
    assert "NoNewPrivileges=yes" in lines and "CapabilityBoundingSet=" in lines
    assert "{" not in text


def test_render_unit_follows_the_installation_unless_pinned() -> None:
    text = render_unit(
        TEMPLATE, ["/home/alice/venv/bin/d"], docs="d", tmp_binds_value=["/tmp/ci"], x="1"
    )
    assert "ProtectHome=read-only" in text.splitlines()
    assert "BindReadOnlyPaths=/tmp/ci" in text.splitlines()
    with pytest.raises(KeyError):  # a template field nobody fills is a bug, not a blank
        render_unit("{nope}", ["/bin/d"], docs="d")


def test_both_daemons_system_units_carry_the_whole_shared_sandbox() -> None:
    from leger_server.units import render as server_unit
    from legerd.units import render as legerd_unit

    shared = HARDENING.format(protect_home="yes", private_tmp="PrivateTmp=yes").splitlines()
    for text in (
        legerd_unit(user=False, command=["/usr/local/bin/legerd"], protect_home="yes"),
        server_unit(command=["/usr/local/bin/leger-server"], protect_home_value="yes"),
    ):
        lines = text.splitlines()
        assert [x for x in shared if x not in lines] == []


def test_unit_dir_is_the_system_dir_or_the_users_config(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert unit_dir(False) == SYSTEM_UNIT_DIR == Path("/etc/systemd/system")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    assert unit_dir(True) == tmp_path / "cfg" / "systemd" / "user"
    monkeypatch.delenv("XDG_CONFIG_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert unit_dir(True) == tmp_path / "home" / ".config" / "systemd" / "user"


def test_write_unit_makes_the_folder_and_a_0644_file(tmp_path: Path) -> None:
    target = write_unit(tmp_path / "a" / "b", "x.service", "[Unit]\n")
    assert target == tmp_path / "a" / "b" / "x.service"
    assert target.read_text() == "[Unit]\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert [p.name for p in target.parent.iterdir()] == ["x.service"]  # no temp file left


def test_write_unit_into_a_file_is_a_clear_error_and_writes_nothing(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(UnitWriteError) as err:
        write_unit(blocker / "sub", "x.service", "[Unit]\n")
    assert str(err.value).startswith(f"cannot write {blocker / 'sub' / 'x.service'}: ")
    assert blocker.read_text() == ""


def test_the_shared_options_print_or_write(tmp_path: Path) -> None:
    @click.command()
    @dir_option("Write here.")
    @dry_run_option
    def install(directory: Path | None, dry_run: bool) -> None:
        written = print_or_write(
            "[Unit]\n",
            directory=directory or tmp_path / "default",
            name="x.service",
            dry_run=dry_run,
        )
        if written:
            click.echo(start_hint("x", user=True))

    runner = CliRunner()
    dry = runner.invoke(install, ["--print", "--dir", str(tmp_path / "u")])
    assert dry.exit_code == 0 and dry.output == "[Unit]\n"
    assert not (tmp_path / "u").exists()
    real = runner.invoke(install, ["--dir", str(tmp_path / "u")])
    assert real.exit_code == 0, real.output
    assert real.output.splitlines() == [
        f"Wrote {tmp_path / 'u' / 'x.service'}",
        "Start it with: systemctl --user daemon-reload && systemctl --user enable --now x",
    ]
    assert "--dir DIRECTORY" in runner.invoke(install, ["--help"]).output
