"""docs/ says what the code has: every config key with its default, every `dalil` command with its options, every URL
rule of the gateway and of the CSO desk. A key, command, option or route added without a line in docs/ fails here,
and so does a line in docs/ for one that is gone."""
from __future__ import annotations

import re
from pathlib import Path

import click

from gateway.cli import main
from gateway.config import schema

DOCS = Path(__file__).resolve().parent.parent / "docs"
IGNORED_METHODS = {"HEAD", "OPTIONS"}


def toml_value(value) -> str:
    """A default as it is written in TOML (and in docs/configuration.md's default column)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + "}"
    return repr(value)


def sections(text: str, heading: str) -> dict[str, str]:
    """The text under each heading that matches ``heading`` (a regex whose one group is the name), up to the next."""
    marks = list(re.finditer(rf"^{heading}\s*$", text, flags=re.M))
    ends = [m.start() for m in marks[1:]] + [len(text)]
    return {m.group(1): text[m.end():end] for m, end in zip(marks, ends, strict=True)}


def table_rows(text: str) -> list[list[str]]:
    return [[cell.strip() for cell in line.strip().strip("|").split("|")]
            for line in text.splitlines() if line.startswith("|") and not line.startswith("|---")]


# -- config keys ----------------------------------------------------------------------------------------------

def test_every_config_key_is_documented_with_its_default():
    documented = sections((DOCS / "configuration.md").read_text(encoding="utf-8"), r"## `?\[([\w.]+)\]`?")
    declared = schema()
    assert set(documented) == set(declared), (
        f"sections in the code but not in docs/configuration.md: {sorted(set(declared) - set(documented))}; "
        f"in docs/configuration.md but not in the code: {sorted(set(documented) - set(declared))}")
    for section, keys in declared.items():
        rows = {row[0].strip("`"): row for row in table_rows(documented[section]) if row[0] != "key"}
        missing = [k for k in keys if k not in rows]
        assert not missing, f"docs/configuration.md, [{section}]: add rows (| `key` | `default` | meaning |): {missing}"
        gone = [k for k in rows if k not in keys]
        assert not gone, f"docs/configuration.md, [{section}] documents keys the code no longer has: {gone}"
        for name, key in keys.items():
            row = rows[name]
            assert row[1] == f"`{toml_value(key.default)}`", (
                f"docs/configuration.md, [{section}] {name}: the default is `{toml_value(key.default)}`, not {row[1]}")
            assert len(row) > 2 and row[2], f"docs/configuration.md, [{section}] {name}: say what it does"


# -- commands -------------------------------------------------------------------------------------------------

def commands(group: click.Group = main, path: str = "dalil"):
    yield path, group
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            yield from commands(command, f"{path} {name}")
        else:
            yield f"{path} {name}", command


def test_every_dalil_command_and_option_is_documented():
    documented = sections((DOCS / "commands.md").read_text(encoding="utf-8"), r"#{2,3} `(dalil[\w -]*)`")
    declared = dict(commands())
    missing = sorted(set(declared) - set(documented))
    assert not missing, f"docs/commands.md has no heading (## `dalil ...`) for {missing}"
    gone = sorted(set(documented) - set(declared))
    assert not gone, f"docs/commands.md documents commands that are gone: {gone}"
    for path, command in declared.items():
        for param in command.params:
            if isinstance(param, click.Option) and not param.hidden:
                names = param.opts + param.secondary_opts
                assert any(f"`{name}`" in documented[path] for name in names), (
                    f"docs/commands.md, {path}: document the option {names[0]}")


# -- URL rules ------------------------------------------------------------------------------------------------

def rules_of(app) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        found.setdefault(rule.rule, set()).update(rule.methods - IGNORED_METHODS)
    return found


def documented_rules(title: str) -> dict[str, set[str]]:
    """Rows of the tables under a '## title' heading of docs/http.md: | `METHODS` | `rule` | ... |."""
    text = (DOCS / "http.md").read_text(encoding="utf-8")
    body = text.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]
    found: dict[str, set[str]] = {}
    for row in table_rows(body):
        if len(row) > 1 and row[1].startswith("`/"):
            found.setdefault(row[1].strip("`"), set()).update(row[0].strip("`").replace(",", " ").split())
    return found


def assert_same_rules(app_rules: dict, documented: dict, where: str) -> None:
    missing = sorted(set(app_rules) - set(documented))
    assert not missing, f"docs/http.md, {where}: add a row (| `GET` | `/rule` | who | what |) for {missing}"
    gone = sorted(set(documented) - set(app_rules))
    assert not gone, f"docs/http.md, {where}: these rules are gone from the app: {gone}"
    for rule, methods in app_rules.items():
        assert documented[rule] == methods, f"docs/http.md, {where}: {rule} answers {sorted(methods)}"


def test_every_url_rule_of_the_gateway_is_documented(app):
    assert_same_rules(rules_of(app), documented_rules("The gateway"), "The gateway")


def test_every_url_rule_of_the_desk_is_documented(app, tmp_path):
    from referrals.desk import home as desk_home
    from referrals.desk.web import create_desk_app
    from test_referral_support import add_cso
    desk = create_desk_app(desk_home.load(add_cso(app, tmp_path, "amal")))
    assert_same_rules(rules_of(desk), documented_rules("The CSO desk"), "The CSO desk")


def test_every_page_the_docs_name_exists():
    root = DOCS.parent
    for page in [root / "README.md", *sorted(DOCS.glob("*.md"))]:
        for named in re.findall(r"docs/[\w-]+\.md", page.read_text(encoding="utf-8")):
            assert (root / named).exists(), f"{page.name} names {named}, which does not exist"
