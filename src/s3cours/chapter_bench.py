"""Where a chapter run's time goes: wall and CPU time split into kernel start, imports,
S3 calls and the rest, for each chapter and for its slowest cells
(``./cours bench chapitre``).

It is a measurement, not a test: figures vary with the machine and its load.

- **Kernel start**: from asking for a kernel to the first cell; CPU of the kernel
  process at that point (ipykernel's own start-up).
- **Imports**: a first cell (added to the run, not to the notebook) wraps
  ``importlib._bootstrap._find_and_load``, which every first import goes through
  (``import`` statements, ``importlib.import_module``, lazy imports inside libraries);
  the outermost import of each thread is timed, wall and CPU.
- **S3 calls**: the kernel's endpoint is a byte-for-byte TCP relay in front of the
  server (signatures stay valid, https passes through). A request is in flight from its
  first byte from the client until the last byte of the answer; the wall time with at
  least one request in flight is the time spent waiting for S3. The server's own CPU
  time (from ``/proc``) is counted separately.
- **Subprocesses** (snakemake, mc): CPU of the kernel's children (``RUSAGE_CHILDREN``).
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from . import config, notebooks

PROBE_MARK = "__s3cours_mesure__"

#: Run first in the kernel: times the outermost import of each thread.
PREAMBLE = """
import importlib._bootstrap as _b, threading as _t, time as _time
import resource as _r, json as _j
_s3c_local = _t.local()
_s3c_spent = [0.0, 0.0]
_s3c_find = _b._find_and_load
def _s3c_find_and_load(*args, **kwargs):
    if getattr(_s3c_local, "depth", 0):
        return _s3c_find(*args, **kwargs)
    _s3c_local.depth = 1
    wall, cpu = _time.perf_counter(), _time.thread_time()
    try:
        return _s3c_find(*args, **kwargs)
    finally:
        _s3c_local.depth = 0
        _s3c_spent[0] += _time.perf_counter() - wall
        _s3c_spent[1] += _time.thread_time() - cpu
_b._find_and_load = _s3c_find_and_load
def _s3c_probe():
    me, kids = _r.getrusage(_r.RUSAGE_SELF), _r.getrusage(_r.RUSAGE_CHILDREN)
    print("MARK" + _j.dumps({"imports_wall": _s3c_spent[0],
                             "imports_cpu": _s3c_spent[1],
                             "cpu": me.ru_utime + me.ru_stime,
                             "children_cpu": kids.ru_utime + kids.ru_stime}))
_s3c_probe()
""".replace("MARK", PROBE_MARK)
PROBE = "_s3c_probe()"
CONTINUE = b"HTTP/1.1 100 "


# ------------------------------------------------------------------------- timing relay


class TimingRelay:
    """A TCP relay on 127.0.0.1 to the server, noting when requests are in flight."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self._lock = threading.Lock()
        #: [start, end] of each request (end grows while the answer arrives).
        self.intervals: list[list[float]] = []
        self._listener = socket.create_server((config.LOOPBACK, 0))
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        try:
            server = socket.create_connection(self.upstream)
        except OSError:
            client.close()
            return
        current: list[list[float] | None] = [
            None
        ]  # the request in flight on this connection
        answering = [False]

        def pump(
            source: socket.socket, target: socket.socket, from_client: bool
        ) -> None:
            try:
                while data := source.recv(1 << 16):
                    now = time.perf_counter()
                    with self._lock:
                        if from_client and (current[0] is None or answering[0]):
                            current[0] = [now, now]
                            answering[0] = False
                            self.intervals.append(current[0])
                        elif not from_client and current[0] is not None:
                            # An interim "100 Continue" (uploads) ends no request.
                            answering[0] = answering[0] or not data.startswith(CONTINUE)
                            current[0][1] = now
                    target.sendall(data)
            except OSError:
                pass
            finally:
                for s in (source, target):
                    try:
                        s.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass

        other = threading.Thread(target=pump, args=(server, client, False), daemon=True)
        other.start()
        pump(client, server, True)
        other.join()
        client.close()
        server.close()

    def busy(self, start: float, end: float) -> tuple[float, int]:
        """Wall time within [start, end] with at least one request in flight, and how
        many requests started in it."""
        with self._lock:
            spans = sorted(
                (max(a, start), min(b, end))
                for a, b in self.intervals
                if b >= start and a <= end
            )
            started = sum(1 for a, _ in self.intervals if start <= a <= end)
        total, reach = 0.0, start
        for a, b in spans:
            if b > reach:
                total += b - max(a, reach)
                reach = b
        return total, started

    def close(self) -> None:
        self._listener.close()


# --------------------------------------------------------------------------- measuring


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system, own and waited-for children) of a process (/proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")


@dataclass
class Cell:
    index: int  # code cell number, from 1
    first_line: str
    wall: float = 0.0
    imports_wall: float = 0.0
    imports_cpu: float = 0.0
    kernel_cpu: float = 0.0
    children_cpu: float = 0.0
    s3_wall: float = 0.0
    requests: int = 0
    server_cpu: float = 0.0
    error: str = ""


@dataclass
class ChapterTiming:
    name: str
    wall: float = 0.0
    kernel_start_wall: float = 0.0
    kernel_start_cpu: float = 0.0
    cells: list[Cell] = field(default_factory=list)

    def total(self, attribute: str) -> float:
        return sum(getattr(c, attribute) for c in self.cells)


def _probe(cell: nbformat.NotebookNode) -> dict[str, float]:
    for out in cell.get("outputs", []):
        if out.output_type == "stream":
            for line in out.text.splitlines():
                if line.startswith(PROBE_MARK):
                    return json.loads(line[len(PROBE_MARK) :])
    raise RuntimeError("mesure absente de la sortie du noyau")


def relay_environment(
    env: dict[str, str], endpoint: str, relay_port: int
) -> dict[str, str]:
    """The environment with every ``host:port`` of the server made the relay's."""
    host = endpoint.rsplit(":", 1)[0]
    return {k: v.replace(endpoint, f"{host}:{relay_port}") for k, v in env.items()}


def measure(
    notebook: Path, env: dict[str, str], endpoint: str, server_pid: int
) -> ChapterTiming:
    """Run one chapter cell by cell in a fresh kernel and time each part."""
    host, port = endpoint.rsplit(":", 1)
    relay = TimingRelay(host, int(port))
    timing = ChapterTiming(notebook.stem)
    original = nbformat.read(notebook, as_version=4)
    nb = nbformat.v4.new_notebook(metadata=original.metadata)
    nb.cells.append(nbformat.v4.new_code_cell(PREAMBLE))
    code_cells = []
    for cell in original.cells:
        if cell.cell_type != "code":
            continue
        cell = nbformat.v4.new_code_cell(cell.source, metadata=cell.metadata)
        code_cells.append(cell)
        nb.cells.extend([cell, nbformat.v4.new_code_cell(PROBE)])
    client = NotebookClient(
        nb,
        timeout=600,
        kernel_name=notebooks.KERNELSPEC["name"],
        allow_errors=True,
        resources={"metadata": {"path": str(config.NOTEBOOKS_DIR)}},
    )
    t0 = time.perf_counter()
    try:
        with client.setup_kernel(env=relay_environment(env, endpoint, relay.port)):
            client.execute_cell(nb.cells[0], 0)
            timing.kernel_start_wall = time.perf_counter() - t0
            previous = _probe(nb.cells[0])
            timing.kernel_start_cpu = previous["cpu"]
            for number, cell in enumerate(code_cells, start=1):
                index = nb.cells.index(cell)
                server_before = process_cpu(server_pid)
                start = time.perf_counter()
                client.execute_cell(cell, index)
                end = time.perf_counter()
                server_after = process_cpu(server_pid)
                client.execute_cell(nb.cells[index + 1], index + 1)
                now = _probe(nb.cells[index + 1])
                s3_wall, requests = relay.busy(start, end)
                errors = [o for o in cell.outputs if o.output_type == "error"]
                timing.cells.append(
                    Cell(
                        number,
                        next(iter(cell.source.splitlines()), ""),
                        end - start,
                        now["imports_wall"] - previous["imports_wall"],
                        now["imports_cpu"] - previous["imports_cpu"],
                        now["cpu"]
                        - previous["cpu"]
                        - (now["imports_cpu"] - previous["imports_cpu"]),
                        now["children_cpu"] - previous["children_cpu"],
                        s3_wall,
                        requests,
                        server_after - server_before,
                        f"{errors[0].ename}" if errors else "",
                    )
                )
                previous = now
    finally:
        relay.close()
    timing.wall = time.perf_counter() - t0
    return timing


def report(timing: ChapterTiming, slowest: int = 8) -> str:
    """A French table: the chapter's split, then its slowest cells."""
    wall = timing.total("wall")
    imports = timing.total("imports_wall")
    s3 = timing.total("s3_wall")
    rest = max(0.0, wall - imports - s3)
    kernel_cpu = timing.total("kernel_cpu")
    lines = [
        f"Chapitre {timing.name} : {timing.wall:.1f} s en tout, "
        f"{len(timing.cells)} cellules de code, {timing.total('requests')} requêtes S3",
        f"  {'':28}{'durée':>9}{'CPU':>9}",
        f"  {'démarrage du noyau':28}{timing.kernel_start_wall:8.1f}s"
        f"{timing.kernel_start_cpu:8.1f}s",
        f"  {'imports':28}{imports:8.1f}s{timing.total('imports_cpu'):8.1f}s",
        f"  {'appels S3 (attente)':28}{s3:8.1f}s{timing.total('server_cpu'):8.1f}s"
        "  (CPU : le serveur)",
        f"  {'reste (calcul du noyau)':28}{rest:8.1f}s{kernel_cpu:8.1f}s"
        "  (CPU : le noyau hors imports)",
        f"  {'sous-processus (snakemake, mc)':28}{'':9}"
        f"{timing.total('children_cpu'):8.1f}s  (pendant les cellules ci-dessus)",
        f"  Les {slowest} cellules les plus longues :",
        f"  {'n°':>4}{'durée':>8}{'imports':>9}{'S3':>7}{'req.':>6}{'CPU noyau':>11}"
        f"{'CPU s.-proc.':>13}{'CPU serv.':>10}  début",
    ]
    for c in sorted(timing.cells, key=lambda c: c.wall, reverse=True)[:slowest]:
        lines.append(
            f"  {c.index:4d}{c.wall:7.1f}s{c.imports_wall:8.1f}s{c.s3_wall:6.1f}s"
            f"{c.requests:6d}{c.kernel_cpu:10.1f}s{c.children_cpu:12.1f}s"
            f"{c.server_cpu:9.1f}s  {c.first_line[:50]}"
            + (f"  [{c.error}]" if c.error else "")
        )
    return "\n".join(lines)
