"""Go tools are built once per machine: a process that needs a tool while another one is
building it waits for that build instead of starting its own (two test workers, or two
commands, that need mc at once)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

#: A stand-in for ``go install MODULE@VERSION``: notes each build, says it started,
#: waits until the test lets it finish, then writes the binary into $GOBIN.
FAKE_GO = """#!/bin/sh
echo build >> "$FAKE_GO_DIR/builds"
touch "$FAKE_GO_DIR/started"
i=0
while [ ! -e "$FAKE_GO_DIR/release" ] && [ $i -lt 600 ]; do
  sleep 0.1
  i=$((i + 1))
done
module=${2%@*}
printf '#!/bin/sh\\necho outil\\n' > "$GOBIN/${module##*/}"
chmod +x "$GOBIN/${module##*/}"
"""

CODE = (
    "import sys\n"
    "from s3cours import gotools\n"
    "say = lambda m: print(m, file=sys.stderr, flush=True)\n"
    "print(gotools.go_install('example.org/outil/cmd/outil', 'v1.0.0', 'Outil', say))"
)


def wait_for(path: Path) -> None:
    deadline = time.monotonic() + 60
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} n'est pas apparu"
        time.sleep(0.05)


def test_a_tool_being_built_is_waited_for_not_built_twice(tmp_path: Path) -> None:
    tools = tmp_path / "tools"
    tools.mkdir()
    (tools / "go").write_text(FAKE_GO)
    (tools / "go").chmod(0o755)
    env = {
        **os.environ,
        "PATH": f"{tools}:{os.environ['PATH']}",
        "FAKE_GO_DIR": str(tools),
        "S3COURS_CACHE": str(tmp_path / "cache"),
    }

    def start() -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-c", CODE],
            env=env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )

    first = start()
    wait_for(tools / "started")
    second = start()
    assert second.stderr is not None
    assert "une construction est déjà en cours" in second.stderr.readline()
    (tools / "release").touch()
    results = [process.communicate(timeout=60) for process in (first, second)]
    assert [first.returncode, second.returncode] == [0, 0], results
    built = {out.strip() for out, _ in results}
    assert built == {str(tmp_path / "cache" / "bin" / "outil-v1.0.0")}
    assert (tools / "builds").read_text().splitlines() == ["build"]
    assert subprocess.run([*built], capture_output=True, text=True).stdout == "outil\n"


#: A stand-in for ``go mod download -json`` then ``go build -o OUT PKG`` run in the
#: module's folder: the build writes a binary only where a ``go.mod`` is (it checks
#: that the build runs inside the module, where its ``replace`` directives apply).
FAKE_GO_BUILD = """#!/bin/sh
if [ "$1" = mod ]; then
  mkdir -p "$FAKE_GO_DIR/module"
  echo 'module example.org/serveur' > "$FAKE_GO_DIR/module/go.mod"
  printf '{"Dir": "%s"}\\n' "$FAKE_GO_DIR/module"
  exit 0
fi
[ -e go.mod ] || { echo "pas dans le module" >&2; exit 1; }
[ "$FAKE_GO_FAIL" = 1 ] && { echo "erreur de compilation" >&2; exit 2; }
printf '#!/bin/sh\\necho serveur\\n' > "$3"
chmod +x "$3"
"""


def _fake_go_build(tmp_path: Path, monkeypatch) -> None:
    tools = tmp_path / "tools"
    tools.mkdir()
    (tools / "go").write_text(FAKE_GO_BUILD)
    (tools / "go").chmod(0o755)
    monkeypatch.setenv("PATH", f"{tools}:{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_GO_DIR", str(tools))
    monkeypatch.setenv("S3COURS_CACHE", str(tmp_path / "cache"))


def test_go_build_builds_inside_the_module_into_the_cache(
    tmp_path, monkeypatch
) -> None:
    from s3cours import gotools

    _fake_go_build(tmp_path, monkeypatch)
    built = gotools.go_build(
        "example.org/serveur", "v1.0.0", "./weed", "weed", "Serveur", lambda _: None
    )
    assert built == tmp_path / "cache" / "bin" / "weed-v1.0.0"
    ran = subprocess.run([built], capture_output=True, text=True, check=True)
    assert ran.stdout == "serveur\n"
    assert gotools.find("weed", "v1.0.0", "AUCUNE_VARIABLE") == built


def test_a_failed_go_build_says_why_and_leaves_nothing(tmp_path, monkeypatch) -> None:
    import pytest

    from s3cours import gotools

    _fake_go_build(tmp_path, monkeypatch)
    monkeypatch.setenv("FAKE_GO_FAIL", "1")
    with pytest.raises(gotools.GoBuildError, match="erreur de compilation"):
        gotools.go_build(
            "example.org/serveur", "v1.0.0", "./weed", "weed", "Serveur", print
        )
    left = [p.name for p in (tmp_path / "cache" / "bin").glob("*weed*")]
    assert left == [".weed-v1.0.0.lock"]  # the lock only: no binary, no partial one
