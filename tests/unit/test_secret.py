"""Secrets by name and by shape; cut from text; cockpit's own environment hidden from its children."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cockpit.config import ComposerConfig, Config, WriterConfig, secret_values
from cockpit.secret import REDACTED, TOKEN_SHAPE, Redactor, is_secret, secret_names

TOKENS = [
    "sk-ant-api03-" + "A1b2" * 10,
    "sk-proj-" + "x9Y_" * 10,
    "sk-" + "Q" * 48,
    "ghp_" + "a1" * 18,
    "gho_" + "b2" * 18,
    "ghs_" + "c3" * 18,
    "github_pat_11AAAAAAA0" + "d" * 40,
    "xoxb-1234567890-abcdefghij",
    "xoxp-1234567890-abcdefghij",
    "AKIAIOSFODNN7EXAMPLE",
]


@pytest.mark.parametrize("token", TOKENS)
def test_token_shapes_are_secrets_wherever_they_are(token: str) -> None:
    assert is_secret("WHATEVER", token)
    text = f"before {token} after"
    assert Redactor().redact(text) == f"before {REDACTED} after"
    # inside JSON too, and the JSON stays valid
    data = json.dumps({"out": f"x={token}\n"})
    assert json.loads(Redactor().redact(data)) == {"out": f"x={REDACTED}\n"}


@pytest.mark.parametrize(
    "text",
    [
        "sk-learn is a library",
        "risk-averse",
        "ghp_short",
        "AKIA",
        "xoxo",
        "task-ant-farm",
        "a-sk-1",
        "risk-" + "a" * 30,
    ],
)
def test_ordinary_words_are_not_tokens(text: str) -> None:
    assert not TOKEN_SHAPE.search(text)


def test_names_that_say_secret() -> None:
    env = {
        "GITHUB_TOKEN": "1",
        "aws_secret_access_key": "2",
        "PGPASSWORD": "3",
        "GOOGLE_APPLICATION_CREDENTIALS": "4",
        "MY_API_KEY": "5",
        "PATH": "/bin",
        "MYVAR": "x",
    }
    assert secret_names(env, ["MYVAR"]) == set(env) - {"PATH"}


def test_redactor_known_values_longest_first() -> None:
    r = Redactor(["hunter2hunter2", "hunter2hunter2-long", "short"])  # short values are ignored
    assert r.redact("a hunter2hunter2-long b hunter2hunter2 short") == f"a {REDACTED} b {REDACTED} short"
    assert r.has_secret("x hunter2hunter2") and not r.has_secret("nothing here")


@given(st.text(max_size=200))
def test_redaction_never_leaves_a_secret(noise: str) -> None:
    key = "supersecret-value-123"
    r = Redactor([key])
    out = r.redact(noise + key + noise)
    assert key not in out


def test_config_secrets_include_the_composer_key_by_any_name() -> None:
    cfg = Config(
        composer=ComposerConfig(api_key_env="MY_COMPOSER"),
        writer=WriterConfig(env={"DEPLOY_TOKEN": "literal-token-value", "REF": "${GITHUB_TOKEN}"}),
    )
    env = {"MY_COMPOSER": "composer-value", "GITHUB_TOKEN": "github-value", "HOME": "/home/someone"}
    values = secret_values(cfg, env)
    assert set(values) == {"composer-value", "github-value", "literal-token-value"}


def test_a_child_cannot_read_the_hidden_environment(tmp_path: Path) -> None:
    """Issue 9: the keys a writer does not get cannot be read back from /proc/<cockpit>/environ."""
    if not Path("/proc/self/environ").exists():
        pytest.skip("no /proc here")
    script = textwrap.dedent(
        """
        import subprocess, sys
        from cockpit import secret
        hidden = secret.hide_own_environment(["MY_COMPOSER"])
        assert secret.getenv("GITHUB_TOKEN") == "gh-value-for-test", "the vault keeps it"
        import os
        assert "GITHUB_TOKEN" not in os.environ
        probe = subprocess.run(
            ["sh", "-c", "cat /proc/$PPID/environ 2>/dev/null | tr '\\\\0' '\\\\n'; env"],
            capture_output=True, text=True,
        )
        sys.stdout.write(",".join(hidden) + "\\n" + probe.stdout)
        """
    )
    env = {
        **os.environ,
        "GITHUB_TOKEN": "gh-value-for-test",
        "MY_COMPOSER": "composer-value-for-test",
        "HARMLESS": "still-here",
    }
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    first, _, rest = done.stdout.partition("\n")
    assert {"GITHUB_TOKEN", "MY_COMPOSER"} <= set(first.split(","))
    assert "gh-value-for-test" not in rest and "composer-value-for-test" not in rest
    assert "HARMLESS=still-here" in rest


def test_long_lines_are_cut_for_display() -> None:
    from cockpit.text import cut_lines

    assert cut_lines("short\nlines") == "short\nlines"
    out = cut_lines("a" * 5000 + "\nok", width=100)
    assert out == "a" * 100 + "… [4,900 more characters]\nok"
