"""The `wartime` CLI as a newcomer runs it: generate, import (progress, line errors), users, switch, replay."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from streams.server import EmbeddedRedis

ROOT = Path(__file__).resolve().parents[2]


def wartime(*args: str, data: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dashboard.cli", *args, "--data", str(data)],
        input=stdin, capture_output=True, text=True, cwd=ROOT, timeout=300,
    )


@pytest.fixture
def data(tmp_path: Path) -> Iterator[Path]:
    d = tmp_path / "data"
    yield d
    EmbeddedRedis(d.resolve()).stop()


def test_generate_import_users_switch_and_replay(data: Path, tmp_path: Path) -> None:
    out = tmp_path / "reg"
    gen = wartime("generate", "--profile", "qingcao", "--out", str(out), data=data)
    assert gen.returncode == 0, gen.stderr
    assert (out / "grids.csv").exists() and (out / "grids.geojson").exists()
    imp = wartime("import", str(out / "grids.csv"), data=data)
    assert imp.returncode == 0, imp.stderr
    assert "rows" in imp.stderr  # the progress bar
    assert "loaded county QC" in imp.stdout
    # The embedded Redis belongs to the data directory and keeps running for the next command.
    assert (data.resolve() / "redis.sock").exists()
    add = wartime("users", "add", "ops", "--role", "commander", "--scope", "QC01", data=data, stdin="s3cret-pass\n")
    assert add.returncode == 0, add.stderr
    listed = wartime("users", "list", data=data)
    assert "ops\tcommander\tQC01" in listed.stdout and "s3cret" not in listed.stdout
    sw = wartime("switch", "QC01", "--to", "wartime", "--incident", "fire", "--level", "III", "--reason", "山火",
                 data=data)
    assert sw.returncode == 0, sw.stderr
    assert '"grids_switched"' in sw.stdout
    again = wartime("switch", "QC01", "--to", "wartime", data=data)
    assert again.returncode == 1 and "already in wartime" in again.stderr
    rep = wartime("replay", data=data)
    assert rep.returncode == 0 and "replayed" in rep.stdout


def test_malformed_registry_is_refused_with_line_numbers_and_nothing_loaded(data: Path, tmp_path: Path) -> None:
    bad = tmp_path / "grids.csv"
    bad.write_text(
        "code,name,level,kind,parent,households,population,first_leader\n"
        "X,某县,county,comprehensive,,10,30,\n"
        "X01,某镇,town,comprehensive,X,10,30,\n"
        "X01-L1,某村,large,comprehensive,NOPE,10,30,\n"
        "X01-L2,某村,galaxy,comprehensive,X01,10,-5,\n",
        encoding="utf-8",
    )
    imp = wartime("import", str(bad), data=data)
    assert imp.returncode == 1
    assert "line 4" in imp.stderr and "line 5" in imp.stderr
    from streams.readmodel import current_county
    from streams.server import connect

    assert current_county(connect(EmbeddedRedis(data.resolve()).url)) is None


def test_users_add_refuses_a_short_password(data: Path, tmp_path: Path) -> None:
    out = tmp_path / "reg"
    wartime("generate", "--profile", "qingcao", "--out", str(out), data=data)
    wartime("import", str(out / "grids.csv"), data=data)
    r = wartime("users", "add", "x", "--role", "viewer", "--scope", "QC", data=data, stdin="short\n")
    assert r.returncode == 1 and "password" in r.stderr


def _screen(stderr: str) -> list[str]:
    """Stderr as a terminal leaves it: on each line, what the last carriage return left standing."""
    return [line.rsplit("\r", 1)[-1].rstrip() for line in stderr.split("\n")]


def test_every_option_of_every_command_has_help_choices_and_an_example() -> None:
    from dashboard.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, __import__("argparse")._SubParsersAction))
    for name, cmd in sub.choices.items():
        assert cmd.epilog and cmd.epilog.startswith("example:\n  "), name
        for action in cmd._actions:
            assert action.help, f"{name} {action.option_strings or action.dest} has no help"
        text = cmd.format_help()
        assert "wartime " + name in text.split("example:")[1], name
    helps = {name: sub.choices[name].format_help() for name in ("demo", "generate", "switch", "serve")}
    assert "{dongchang,pingnan,pingnan-dense,qingcao}" in helps["demo"] and "(default: pingnan)" in helps["demo"]
    assert "{dongchang,pingnan,pingnan-dense,qingcao}" in helps["generate"]
    assert "{epidemic,flood,fire,other}" in helps["switch"] and "{I,II,III,IV}" in helps["switch"]
    assert "(default: 8050)" in helps["serve"] and "(default: None)" not in helps["serve"]


def test_import_says_no_such_file_and_nothing_loaded(data: Path, tmp_path: Path) -> None:
    imp = wartime("import", str(tmp_path / "missing.csv"), data=data)
    assert imp.returncode == 1
    assert imp.stderr.strip() == f"error: {tmp_path / 'missing.csv'}: no such file; nothing was loaded"


def test_a_refused_import_says_so_once_clears_its_bar_and_says_nothing_was_loaded(data: Path, tmp_path: Path) -> None:
    bad = tmp_path / "grids.csv"
    bad.write_text("code,name,parent,level\nX,bad,,county\n", encoding="utf-8")
    imp = subprocess.run([sys.executable, "-m", "dashboard.cli", "import", str(bad), "--data", str(data)],
                         capture_output=True, cwd=ROOT, timeout=300)  # bytes: text mode would turn \r into \n
    assert imp.returncode == 1
    screen = [line for line in _screen(imp.stderr.decode()) if line]
    assert screen[0] == "refused: grids.csv: 1 bad row(s)", screen
    assert sum("missing column" in line for line in screen) == 1, screen  # the bad row, once
    assert screen[-1].startswith("nothing was loaded"), screen
    assert not any("rows/s" in line for line in screen), screen  # the progress bar was wiped, not left standing


def test_stop_ends_the_embedded_redis_of_a_data_directory(data: Path, tmp_path: Path) -> None:
    server = EmbeddedRedis(data.resolve())
    wartime("replay", data=data)  # any command starts it, and it outlives the command
    pid = server.pid()
    assert pid is not None and server.running()
    out = wartime("stop", data=data)
    assert out.returncode == 0 and f"pid {pid}" in out.stdout, out.stderr
    assert not server.running() and not (data.resolve() / "redis.sock").exists()
    import os

    with pytest.raises(ProcessLookupError):
        for _ in range(50):
            os.kill(pid, 0)
            __import__("time").sleep(0.1)
    again = wartime("stop", data=data)
    assert again.returncode == 0 and "no embedded Redis running" in again.stdout


def test_the_grid_counts_say_which_number_counts_what() -> None:
    from command.generate import generate
    from dashboard.cli import grid_counts

    tree, _ = generate("pingnan")
    text = grid_counts(tree)
    assert "7,226 comprehensive + 165 dedicated = 7,391" in text
    assert "county and its 21 towns: 7,413" in text and "drawn on the map): 5,043" in text
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for figure in ("7,226", "7,391", "7,413", "5,043"):
        assert figure in readme
