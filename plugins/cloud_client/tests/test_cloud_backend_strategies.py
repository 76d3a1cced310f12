"""The ``cloud`` backend feeds a strategy directly from the account, with legerd down."""

from __future__ import annotations

from pathlib import Path


def test_fetch_reads_the_account_directly_through_the_cloud_backend(
    logged_in, leger_cli, cloud_env, tmp_path
):
    leger_cli("secrets", "set", "openai_api_key", input="sk-cloud-direct-5")
    config = Path(cloud_env["LEGER_CONFIG"])
    config.write_text(
        config.read_text()
        + '[services.app.env]\nOPENAI_API_KEY = "cloud:openai_api_key"\n'
        + '[services.other.env]\nOPENAI_API_KEY = "openai_api_key"\n'
    )
    down = {"LEGERD_SOCKET": str(tmp_path / "no-legerd.sock")}
    leger_cli("secrets", "fetch", "app", env=down)
    env_file = Path(cloud_env["XDG_RUNTIME_DIR"]) / "leger" / "app.env"
    assert "OPENAI_API_KEY=sk-cloud-direct-5\n" in env_file.read_text()
    # the same name without a backend goes to legerd, which is down: exit 5, no file
    leger_cli("secrets", "fetch", "other", env=down, expect=5)
    # unless --backend says otherwise
    leger_cli("secrets", "fetch", "other", "--backend", "cloud", env=down)
    other = Path(cloud_env["XDG_RUNTIME_DIR"]) / "leger" / "other.env"
    assert "OPENAI_API_KEY=sk-cloud-direct-5\n" in other.read_text()
