"""Every ``skolsam`` help page renders: argparse %-formats help texts, so a stray "%" in one breaks
``skolsam --help`` for every command (it did: "95 % interval")."""

from __future__ import annotations

import pytest

from skolsam.cli import COMMANDS, _load, main

NAMES = [m.NAME for m in (_load(c) for c in COMMANDS) if m is not None]


def test_the_top_level_help_lists_every_command(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    for name in NAMES:
        assert name in out


@pytest.mark.parametrize("name", NAMES)
def test_each_command_help_renders(name, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([name, "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: skolsam " + name)
