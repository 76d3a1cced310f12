"""leger_core.lightjson must answer exactly as json does: the setec client and the fast path's
caches read every legerd answer and cache file through it."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest

from leger_core import lightjson

DOCUMENTS = [
    '{"Value":"c2stb3BlbmFp","Version":3}',
    ' \t\n{"Name": "leger/u1/openai_api_key", "Versions": [1, 2, 5], "ActiveVersion": 2}\r\n ',
    "null",
    "[]",
    "7",
    "-0.5e-3",
    "12345678901234567890123456789",
    '"\\u00e9\\ud83d\\ude00\\n\\t\\"\\\\/"',
    '{"a": {"b": [true, false, null, {"c": ""}]}, "a": 2}',  # a repeated key: the last wins
    "[1.0, 1e400, -1e400, 0.1]",
    '"caf\u00e9 \U0001f600"',
]
MALFORMED = ["", " ", "{", "[1,", '{"a" 1}', "[1] [2]", '{"a": 1} x', "nul", "'a'", '"\x01"', "01"]


@pytest.mark.parametrize("text", DOCUMENTS)
def test_loads_answers_as_json_does(text):
    assert lightjson.loads(text) == json.loads(text)
    assert lightjson.loads(text.encode()) == json.loads(text.encode())


def test_nan_and_infinity_are_read_as_json_reads_them():
    got = lightjson.loads("[NaN, Infinity, -Infinity]")
    assert math.isnan(got[0]) and got[1:] == [math.inf, -math.inf]


@pytest.mark.parametrize("text", MALFORMED)
def test_malformed_input_is_a_value_error_as_in_json(text):
    with pytest.raises(ValueError):
        json.loads(text)
    with pytest.raises(ValueError):
        lightjson.loads(text)


def test_invalid_utf8_is_a_value_error():
    with pytest.raises(ValueError):
        lightjson.loads(b'{"a": "\xff"}')


def test_bytes_are_utf8_only():
    # json.loads guesses UTF-16 and skips a BOM; legerd and the caches only ever write UTF-8.
    for data in ('{"a": 1}'.encode("utf-16"), b'\xef\xbb\xbf{"a": 1}'):
        assert json.loads(data) == {"a": 1}
        with pytest.raises(ValueError):
            lightjson.loads(data)


@pytest.mark.parametrize(
    "obj",
    [
        {"Name": "team/anthropic", "Version": 0, "UpdateIfChanged": True},
        {"Value": 'é\n"\\\u2028', "n": None, "l": [1, 2.5, -3, [], {}]},
        [float("inf"), 10**30],
        "plain",
    ],
)
def test_dumps_is_compact_json_dumps(obj):
    assert lightjson.dumps(obj) == json.dumps(obj, separators=(",", ":"))


def test_dumps_refuses_what_json_refuses():
    with pytest.raises(TypeError, match="not JSON serializable"):
        lightjson.dumps({"a": object()})
    with pytest.raises(TypeError):
        lightjson.dumps({("tuple", "key"): 1})


def test_without_the_c_accelerator_it_is_plain_json():
    code = (
        "import sys; sys.modules['_json'] = None\n"
        "import json\n"
        "from leger_core import lightjson\n"
        "assert 'json.decoder' in sys.modules  # the fallback: json itself\n"
        "print(lightjson.dumps({'a': [1, 'é']}), lightjson.loads(b' [1, {\"b\": null}] '))\n"
        "try:\n"
        "    lightjson.loads('{\"a\": 1}'.encode('utf-16'))\n"
        "except ValueError:\n"
        "    print('utf-16 refused')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout == '{"a":[1,"\\u00e9"]} [1, {\'b\': None}]\nutf-16 refused\n'
