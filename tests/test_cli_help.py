"""What ``gridgis --help`` shows, against the README's command-line section and the library."""

from __future__ import annotations

import re
from pathlib import Path

import click

from gridgis.cli import main
from gridgis.cli.demo import DEMO_DISTRICTS

README = Path(__file__).resolve().parents[1] / "README.md"

_OPTION = re.compile(r"(?<![\w-])(--[a-z][a-z0-9-]*|-[a-z])\b")
_WORD = re.compile(r"[a-z][a-z-]*")


def _synopses() -> list[str]:
    """Each ``gridgis …`` synopsis in the code blocks of the README's command-line section.

    Indented continuation lines are joined on to the synopsis they continue.
    """
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## The command line\n", 1)[1].split("\n## ", 1)[0]
    entries: list[str] = []
    for block in re.findall(r"```[a-z]*\n(.*?)```", section, flags=re.S):
        for line in block.splitlines():
            if line.startswith("gridgis "):
                entries.append(line.rstrip("\\ "))
            elif line.startswith(" ") and entries:
                entries[-1] += " " + line.strip().rstrip("\\ ")
    return entries


def _documented() -> list[tuple[list[tuple[str, ...]], set[str]]]:
    """(command paths, the options the README shows for them) for each synopsis.

    ``gridgis db status | start | stop`` gives one entry per subcommand;
    ``gridgis export cells|cases|stats --format ...`` one entry for the three.
    """
    found: list[tuple[list[tuple[str, ...]], set[str]]] = []
    for entry in _synopses():
        top, _, rest = entry.removeprefix("gridgis ").partition(" ")
        group = main.commands.get(top)
        if not isinstance(group, click.Group):
            found.append(([(top,)], set(_OPTION.findall(rest))))
            continue
        prefix: tuple[str, ...] = (top,)
        first_word = rest.split(" ", 1)[0]
        if isinstance(group.commands.get(first_word), click.Group):  # `open311 key add | ...`
            prefix, rest = (top, first_word), rest.partition(" ")[2]
        for i, segment in enumerate(rest.split(" | ")):
            first = segment.strip().split(" ", 1)[0]
            names = first.split("|") if i == 0 else [first]
            if all(_WORD.fullmatch(n) for n in names):  # a subcommand, not --street CODE
                found.append(([(*prefix, n) for n in names], set()))
            found[-1][1].update(_OPTION.findall(segment))
    return found


def _commands() -> set[tuple[str, ...]]:
    paths: set[tuple[str, ...]] = set()
    for name, command in main.commands.items():
        if not isinstance(command, click.Group):
            paths.add((name,))
            continue
        for sub, subcommand in command.commands.items():
            if isinstance(subcommand, click.Group):  # `gridgis open311 key add`
                paths.update((name, sub, leaf) for leaf in subcommand.commands)
            else:
                paths.add((name, sub))
    return paths


def _options(path: tuple[str, ...]) -> set[str]:
    command: click.Command = main
    for name in path:
        assert isinstance(command, click.Group)
        command = command.commands[name]
    options = [p for p in command.params if isinstance(p, click.Option)]
    return {o for p in options for o in (*p.opts, *p.secondary_opts)}


def test_readme_lists_every_command_and_no_other() -> None:
    documented = {path for paths, _ in _documented() for path in paths}
    assert documented - _commands() == set(), "in the README but not a command"
    assert _commands() - documented == set(), "a command the README does not show"


def test_readme_options_exist() -> None:
    for paths, options in _documented():
        known = set().union(*(_options(path) for path in paths))
        unknown = options - known
        assert not unknown, f"README shows {unknown} for {paths}, which have {sorted(known)}"


def test_synopses_are_read() -> None:
    documented = dict((p, o) for paths, o in _documented() for p in paths)
    assert documented[("users", "token")] == {"--revoke"}
    assert {("open311", "key", "add"), ("open311", "key", "revoke")} <= set(documented)
    assert documented[("cells", "adjust")] == {"--community", "--street", "--district"}
    assert {"--format", "--level", "-o"} <= documented[("export", "stats")]


def test_demo_districts_are_the_demo_profiles() -> None:
    # The CLI keeps its own copy so that `gridgis --help` need not import the generator.
    from gridgis.demo.profiles import PROFILES

    assert {code: p.name for code, p in PROFILES.items()} == DEMO_DISTRICTS
