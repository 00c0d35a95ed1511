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
