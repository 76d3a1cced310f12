"""``leger releases list|show|create|upload|download|where`` against your account."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click


def _client(leger: Any) -> Any:
    from leger_plugin_cloud.session import current_client

    return current_client(leger)


@contextmanager
def _progress(label: str, enabled: bool) -> Iterator[Callable[[int, int | None], None] | None]:
    """A click progress bar on stderr for a transfer (hidden when not a terminal)."""
    if not enabled:
        yield None
        return
    state: dict[str, Any] = {"bar": None, "done": 0}

    def update(done: int, total: int | None) -> None:
        if state["bar"] is None:
            state["bar"] = click.progressbar(
                length=total or 0, label=label, file=sys.stderr, show_pos=False
            ).__enter__()
        state["bar"].update(done - state["done"])
        state["done"] = done

    try:
        yield update
    finally:
        if state["bar"] is not None:
            state["bar"].__exit__(None, None, None)


def _line(r: dict[str, Any]) -> str:
    if r["kind"] == "git":
        return f"{r['name']}  git v{r['version']}  {r['git_url']}#{r['git_branch']}"
    size = r.get("bundle_size_bytes") or 0
    return f"{r['name']}  bundle v{r['version']}  {size} bytes  {len(r.get('files', []))} files"


@click.group(name="releases")
def releases_group() -> None:
    """Releases in your account: git sources and uploaded bundles."""


@releases_group.command(name="list")
@click.option("--name", help="Only releases with this name.")
@click.option("--json", "as_json", is_flag=True, help="Output JSON.")
@click.pass_obj
def list_cmd(leger: Any, name: str | None, as_json: bool) -> None:
    """Every release: name, kind, version."""
    with _client(leger) as client:
        items = client.list_releases(name)
    if as_json:
        click.echo(json.dumps(items, indent=2))
        return
    if not items:
        click.echo("No releases in your account.")
        return
    for r in items:
        click.echo(_line(r))


@releases_group.command(name="where")
@click.argument("release", required=False)
@click.option("--json", "as_json", is_flag=True, help="Output JSON.")
@click.pass_obj
def where_cmd(leger: Any, release: str | None, as_json: bool) -> None:
    """What runs where: every device's deployments (of RELEASE, or all) as last reported."""
    with _client(leger) as client:
        items = client.list_deployments(release)
    if as_json:
        click.echo(json.dumps(items, indent=2))
        return
    if not items:
        click.echo("No device has reported a deployment yet.")
        return
    for d in items:
        version = d["version"][:12] if len(d["version"]) >= 40 else d["version"]
        down = d["units_not_active"]
        units = (
            "removed"
            if d["event"] == "remove"
            else ", ".join(f"{u} {d['units'][u]}" for u in down)
            if down
            else f"{len(d['units'])} units active"
        )
        release_name = d["release_name"] or d["source"]
        click.echo(
            f"{d['hostname']}  {d['name']}  {version}  ({release_name})  "
            f"{d['event']} {d['updated_at']}  {units}"
        )


@releases_group.command(name="show")
@click.argument("ref", default="latest")
@click.option("--json", "as_json", is_flag=True, help="Output JSON.")
@click.pass_obj
def show_cmd(leger: Any, ref: str, as_json: bool) -> None:
    """One release: REF is an id, a bundle version number, or 'latest'."""
    with _client(leger) as client:
        r = client.get_release(ref)
    if as_json:
        click.echo(json.dumps(r, indent=2))
        return
    click.echo(_line(r))
    click.echo(f"  id       {r['id']}")
    click.echo(f"  created  {r['created_at']}")
    if r["kind"] == "bundle":
        click.echo(f"  sha256   {r.get('sha256')}")
        for path in r.get("files", []):
            click.echo(f"  file     {path}")
        for svc in r.get("services", []):
            click.echo(f"  service  {svc}")
        for secret in r.get("secrets_required", []):
            click.echo(f"  secret   {secret}")
    elif r.get("description"):
        click.echo(f"  about    {r['description']}")


@releases_group.command(name="create")
@click.argument("name")
@click.option("--git-url", required=True, help="Repository URL (https://, ssh://, git@…).")
@click.option("--branch", "git_branch", default="main", show_default=True)
@click.option("--description")
@click.option("--json", "as_json", is_flag=True, help="Output JSON.")
@click.pass_obj
def create_cmd(
    leger: Any,
    name: str,
    git_url: str,
    git_branch: str,
    description: str | None,
    as_json: bool,
) -> None:
    """Register a git release NAME (a repository and branch of quadlets)."""
    with _client(leger) as client:
        r = client.create_git_release(name, git_url, git_branch, description)
    click.echo(json.dumps(r, indent=2) if as_json else f"Created {_line(r)}")


@releases_group.command(name="upload")
@click.argument("bundle", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Output JSON.")
@click.pass_obj
def upload_cmd(leger: Any, bundle: Path, as_json: bool) -> None:
    """Upload BUNDLE (.tar.gz with manifest.json) as your next release version."""
    with _client(leger) as client, _progress("Uploading", sys.stderr.isatty()) as progress:
        r = client.upload_bundle(bundle, progress=progress)
    click.echo(json.dumps(r, indent=2) if as_json else f"Uploaded {_line(r)}")


@releases_group.command(name="download")
@click.argument("ref", default="latest")
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    default=Path("."),
    show_default=True,
    help=(
        "A file, or a directory for <name>-v<N>.tar.gz (named here: a server name that is a"
        " dot file or a path is refused)."
    ),
)
@click.option("--json", "as_json", is_flag=True, help="Output JSON.")
@click.pass_obj
def download_cmd(leger: Any, ref: str, output: Path, as_json: bool) -> None:
    """Download bundle REF (a version number, an id, or 'latest'); its sha256 is checked."""
    with _client(leger) as client, _progress("Downloading", sys.stderr.isatty()) as progress:
        path = client.download_release(ref, output, progress=progress)
    if as_json:
        click.echo(json.dumps({"path": str(path), "size": path.stat().st_size}))
    else:
        click.echo(f"Saved {path} ({path.stat().st_size} bytes).")
