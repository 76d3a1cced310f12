"""The quadlet parser and validator: systemd's syntax, podman's keys, ``file:line`` messages."""

from __future__ import annotations

import pytest

from leger_plugin_deploy.quadlet import parse, secret_refs, service_name, validate_quadlet


def _errors(problems):
    return [str(p) for p in problems if p.level == "error"]


def _warnings(problems):
    return [str(p) for p in problems if p.level == "warning"]


def test_sections_comments_and_repeated_keys():
    text = (
        "# a comment\n"
        "; another\n"
        "[Container]\n"
        "Image = docker.io/library/busybox\n"
        "Environment=A=1\n"
        "Environment=B=2\n"
        "\n"
        "[Service]\n"
        "Restart=always\n"
    )
    unit, problems = parse(text, "web.container")
    assert problems == []
    assert unit.values("Container", "Environment") == ["A=1", "B=2"]
    assert unit.last("Container", "Image") == "docker.io/library/busybox"
    assert unit.sections == {"Container": 3, "Service": 8}


def test_continuation_lines_join_with_a_space_and_skip_comments():
    text = "[Container]\nImage=busybox\nExec=sh -c \\\n# ignored comment\n  'echo hi' \\\n  --x\n"
    unit, problems = parse(text, "a.container")
    assert problems == []
    exec_entry = next(e for e in unit.entries if e.key == "Exec")
    assert exec_entry.value == "sh -c  'echo hi'  --x"
    assert exec_entry.line == 3


def test_an_empty_assignment_resets_a_list():
    unit, _ = parse("[Container]\nVolume=a:/a\nVolume=\nVolume=b:/b\n", "x.container")
    assert unit.values("Container", "Volume") == ["b:/b"]


def test_syntax_errors_name_file_and_line():
    text = "Image=outside\n[Container\n[Container]\njust words\n=novalue\n"
    _, problems = parse(text, "bad.container")
    assert _errors(problems) == [
        "bad.container:1: error: Image= is outside of any [Section]",
        "bad.container:2: error: malformed section header '[Container'",
        "bad.container:4: error: expected Key=Value, got 'just words'",
        "bad.container:5: error: invalid key name ''",
    ]


def test_image_is_required_in_a_container():
    _, problems = validate_quadlet(
        b"[Unit]\nDescription=x\n\n[Container]\nExec=true\n", "w.container"
    )
    assert _errors(problems) == [
        "w.container:4: error: [Container] needs Image= (the image the service runs)"
    ]


def test_a_container_file_needs_its_section():
    _, problems = validate_quadlet(b"[Service]\nRestart=always\n", "w.container")
    assert _errors(problems) == [
        "w.container: error: a .container file needs a [Container] section"
    ]


def test_unknown_keys_and_sections_are_warnings():
    data = b"[Container]\nImage=x\nImagePullPolicy=always\n[Contianer]\nFoo=1\n[X-Mine]\nA=b\n"
    _, problems = validate_quadlet(data, "w.container")
    assert _errors(problems) == []
    assert _warnings(problems) == [
        "w.container:3: warning: unknown key ImagePullPolicy= in [Container]",
        "w.container:4: warning: unknown section [Contianer]",
    ]


def test_each_type_knows_its_keys():
    cases = {
        "d.volume": b"[Volume]\nVolumeName=d\nDriver=local\n",
        "n.network": b"[Network]\nSubnet=10.89.0.0/24\nInternal=true\n",
        "p.pod": b"[Pod]\nPodName=p\nPublishPort=8080:80\n",
        "k.kube": b"[Kube]\nYaml=k.yaml\nConfigMap=c.yaml\n",
        "i.image": b"[Image]\nImage=quay.io/x/y:1\nAllTags=false\n",
        "b.build": b"[Build]\nImageTag=localhost/b\nFile=Containerfile\n",
    }
    for path, data in cases.items():
        _, problems = validate_quadlet(data, path)
        assert problems == [], (path, problems)


def test_required_keys_of_other_types():
    assert _errors(validate_quadlet(b"[Kube]\nNetwork=x\n", "k.kube")[1])
    assert _errors(validate_quadlet(b"[Image]\nArch=arm64\n", "i.image")[1])
    assert _errors(validate_quadlet(b"[Build]\nFile=F\n", "b.build")[1])


def test_not_text_is_an_error():
    assert _errors(validate_quadlet(b"[Container]\nImage=\xff\n", "w.container")[1]) == [
        "w.container:2: error: is not valid UTF-8"
    ]


def test_service_names_follow_quadlet():
    assert service_name("web.container", None) == "web.service"
    assert service_name("sub/db.volume", None) == "db-volume.service"
    assert service_name("net.network", None) == "net-network.service"
    assert service_name("p.pod", None) == "p-pod.service"
    assert service_name("k.kube", None) == "k.service"
    unit, _ = parse("[Container]\nImage=x\nServiceName=custom\n", "web.container")
    assert service_name("web.container", unit) == "custom.service"


@pytest.mark.parametrize(
    "value",
    ["../../etc/x", "a/b", "web service", "x@y", "bad$name", "x" * 249, "tab\there", "é"],
    ids=["dotdot", "slash", "space", "at", "dollar", "too-long", "tab", "non-ascii"],
)
def test_service_name_must_be_a_systemd_unit_name(value):
    text = f"[Container]\nImage=x\nServiceName={value}\n".encode()
    errors = _errors(validate_quadlet(text, "web.container")[1])
    assert len(errors) == 1 and errors[0].startswith("web.container:3: error:"), errors
    assert "valid systemd unit name" in errors[0] or "longer than 256" in errors[0]


@pytest.mark.parametrize("value", ["web-2", "a:b_c.d", "x" * 248, "custom.service", "\\x2d"])
def test_valid_service_names_pass(value):
    text = f"[Container]\nImage=x\nServiceName={value}\n".encode()
    assert _errors(validate_quadlet(text, "web.container")[1]) == []


def test_a_long_file_name_makes_a_too_long_unit_name():
    name = "v" * 245 + ".volume"  # -> 245 + len("-volume.service") = 260 characters
    errors = _errors(validate_quadlet(b"[Volume]\n", name)[1])
    assert any("longer than 256 characters" in e for e in errors), errors


def test_secret_lines():
    unit, _ = parse(
        "[Container]\nSecret=openai_api_key,type=env,target=OPENAI_API_KEY\nSecret=tls_cert\n",
        "w.container",
    )
    refs = secret_refs(unit)
    assert [(r.name, r.type, r.target) for r in refs] == [
        ("openai_api_key", "env", "OPENAI_API_KEY"),
        ("tls_cert", "mount", None),
    ]


@pytest.mark.parametrize(
    "name", ["web@1_key", "_key", "key.", "key-", "a:b", "k" * 65, "team/key", "a=b"]
)
def test_a_secret_name_podman_would_refuse_is_an_error(name):
    """podman 4.3 refuses these (5.4 some of them): the release says so before install."""
    text = f"[Container]\nImage=x\nSecret={name},type=env,target=KEY\n".encode()
    errors = _errors(validate_quadlet(text, "web.container")[1])
    assert len(errors) == 1 and errors[0].startswith("web.container:3: error:"), errors
    assert "podman would refuse this secret name" in errors[0]
    assert "1 to 64 letters, digits, '_', '.' and '-'" in errors[0]


@pytest.mark.parametrize("name", ["key", "openai_api_key", "a.b-c_", "K" * 64, "9"])
def test_secret_names_podman_accepts_pass(name):
    text = f"[Container]\nImage=x\nSecret={name},type=env,target=KEY\n".encode()
    assert _errors(validate_quadlet(text, "web.container")[1]) == []


def test_a_service_with_secrets_needs_a_leger_service_name():
    """a:b.container is a systemd unit name, but no strategy could deliver its secrets."""
    from leger_core.errors import InvalidInputError
    from leger_plugin_deploy.manifest import ReleaseRefused, parse_manifest
    from leger_plugin_deploy.release import check_release

    secret = b"[Container]\nImage=x\nSecret=key,type=env,target=KEY\n"
    with pytest.raises(InvalidInputError) as raised:
        check_release({"a:b.container": secret}, None)
    assert "'a:b' names a service with secrets but is not a Leger service name" in str(raised.value)
    # without secrets it is only a unit: fine
    check_release({"a:b.container": b"[Container]\nImage=x\n"}, None)
    assert "web" in check_release({"web.container": secret}, None).services
    with pytest.raises(ReleaseRefused, match="is not a Leger service name"):
        parse_manifest(
            b'{"services": [{"name": "a:b", "secrets_required": ["key"]}]}',
            require_checksums=False,
        )
