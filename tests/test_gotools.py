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
