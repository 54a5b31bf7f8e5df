from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cockpit.config import CONFIG_TEMPLATE, Config, ConfigError, load_config, parse_config
from cockpit.plan import PlanError, from_tasks, parse_plan, title_from_task


def test_template_parses_to_the_defaults() -> None:
    cfg = parse_config(CONFIG_TEMPLATE, "cockpit.toml")
    assert cfg.session == Config().session and cfg.reviewers == Config().reviewers
    assert [r.name for r in cfg.reviewers] == ["correctness", "quality"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[session]\nmax_rounds = "x"\n', "cockpit.toml:2: session.max_rounds: Expected `int`"),
        ("[session]\nmax_round = 2\n", "cockpit.toml:2: session.max_round: unknown key"),
        (
            '[[reviewers]]\nname="a"\n[[reviewers]]\nname="b"\nmodel = 3\n',
            "cockpit.toml:5: reviewers[1].model",
        ),
        ('[[reviewers]]\nname="a"\n[[reviewers]]\nname="a"\n', "'a' is used by two reviewers"),
        ('[writer]\nsandbox = "nope"\n', "writer.sandbox: Invalid enum value 'nope'"),
        ("[session]\nmax_rounds = 0\n", "session.max_rounds: must be at least 1"),
        (
            '[[reviewers]]\nname = "x"\nhost = "localhost:1"\n',
            "reviewers[0].host: 'localhost:1' is not an http",
        ),
        ("reviewers = []\n", "at least one reviewer"),
        ("x = \n", "not valid TOML"),
        # issue 9: the brief never goes into a shell's command line
        (
            '[writer]\nbackend = "command"\nshell = true\ncommand = "tool {brief} | tee x"\nbrief_via = "stdin"\n',
            "cockpit.toml:4: writer.command: with shell = true the brief cannot be in the command line",
        ),
        (
            '[writer]\nbackend = "command"\ncommand = "tool | tee x"\nshell = true\n',
            'writer.brief_via: with shell = true the brief goes by "stdin" or "file"',
        ),
        (
            '[writer]\nbackend = "command"\nshell = true\ncommand = ["sh", "-c", "x"]\nbrief_via = "file"\n',
            "writer.shell: shell = true needs `command` as one string",
        ),
        ('[writer]\nbackend = "command"\ncommand = "tool \'unclosed"\n', "writer.command: cannot be split"),
    ],
)
def test_errors_name_the_key_and_line(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(text, "cockpit.toml")
    assert message in str(err.value)


def test_load_from_repo_or_defaults(tmp_path: Path) -> None:
    assert load_config(None, tmp_path) == Config()
    (tmp_path / "cockpit.toml").write_text('[composer]\nmodel = "claude-x"\n')
    cfg = load_config(None, tmp_path)
    assert cfg.composer.model == "claude-x" and cfg.source.endswith("cockpit.toml")
    with pytest.raises(ConfigError, match="cannot read config"):
        load_config(tmp_path / "missing.toml")


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_config_parser_raises_only_config_errors(text: str) -> None:
    with contextlib.suppress(ConfigError):
        parse_config(text, "f")


def test_plans() -> None:
    items, goal = parse_plan(
        'goal = "g"\n[[pr]]\ntitle = "A"\ntask = "do a"\n[[pr]]\ntitle = "B"\ntask = "b"\nreview = false\n'
    )
    assert [(i.title, i.review) for i in items] == [("A", True), ("B", False)] and goal == "g"
    for bad, msg in (
        ("", r"no \[\[pr\]\]"),
        ('[[pr]]\ntitle = ""\ntask = "x"', "title is empty"),
        ('[[pr]]\ntitle = "a"\ntask = "x"\nowner = 1', "owner"),
        ("[[pr]", "not valid TOML"),
    ):
        with pytest.raises(PlanError, match=msg):
            parse_plan(bad)
    assert [i.title for i in from_tasks(["Fix the bug.\nMore detail", "  "])] == ["Fix the bug"]
    assert title_from_task("x" * 100).endswith("…") and len(title_from_task("x" * 100)) == 60
    with pytest.raises(PlanError):
        from_tasks([" "])


def test_files_that_are_not_plain_utf8(tmp_path: Path) -> None:
    bom = tmp_path / "bom.toml"
    bom.write_bytes(b"\xef\xbb\xbf[session]\nmax_rounds = 2\n")
    assert load_config(bom).session.max_rounds == 2
    latin = tmp_path / "latin.toml"
    latin.write_bytes(b'[session]\ngoal = "caf\xe9"\n')
    with pytest.raises(ConfigError, match=r"latin\.toml: not UTF-8"):
        load_config(latin)
    from cockpit.plan import load_plan

    with pytest.raises(PlanError, match="not UTF-8"):
        load_plan(latin)
    with pytest.raises(PlanError, match="cannot read plan"):
        load_plan(tmp_path)  # a directory
    with pytest.raises(ConfigError, match=r"composer\.timeout_s: must be a positive number"):
        parse_config("[composer]\ntimeout_s = nan\n", "c.toml")


@pytest.mark.parametrize(
    "text",
    [
        '[composer]\nbackend = "scripted"\n',
        '[writer]\nbackend = "scripted"\n',
        '[[reviewers]]\nbackend = "scripted"\n',
        '[scripted]\nscenario = "builtin:demo"\n',
    ],
)
def test_the_scripted_test_backends_are_not_a_user_setting(text: str) -> None:
    with pytest.raises(ConfigError):
        parse_config(text, "cockpit.toml")
