"""The course's Jupyter kernel (« Python et S3 », name ``python-s3``) and the JupyterLab
settings that go with it.

When a kernel starts, JupyterLab writes its ``language_info`` into the notebook's
metadata, and marks the notebook modified unless the same value is already there, field
for field (JupyterLab 4.6: ``YNotebook.setMetadata`` compares with
``JSONExt.deepEqual``). ipykernel reports the interpreter's full version (``3.11.7``),
which changes from one machine to the next (CI, Binder and a maintainer's laptop each
have their own patch release): notebooks built on one machine would open modified on
every other. The course's kernel is ipykernel's, except that it reports the language's
version, major and minor (``3.11``: what ``environment.yml`` and the CI pin), so a
notebook built anywhere opens unmodified wherever this kernel runs on Python 3.11. The
build writes the same :data:`LANGUAGE_INFO` into every notebook.

:func:`install` writes the kernel's spec (the class is named on its command line,
``--IPKernelApp.kernel_class``, a setting of ipykernel) and, for a JupyterLab installed
in the same prefix, the course's default settings (:data:`LAB_SETTINGS`, in
``share/jupyter/lab/settings/overrides.d/``, where JupyterLab reads the defaults that a
package adds): no question « Would you like to get notified about official Jupyter
news? » in English over the first notebook, and no request to jupyter.org.

    python -m s3cours.noyau --sys-prefix     # this environment (./cours, Binder)
    python -m s3cours.noyau --user           # your own Jupyter (the kernel only)
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from ipykernel.ipkernel import IPythonKernel

KERNEL_NAME = "python-s3"
DISPLAY_NAME = "Python et S3"
#: The kernel spec's part that JupyterLab writes into a notebook (``kernelspec``).
KERNELSPEC = {"display_name": DISPLAY_NAME, "language": "python", "name": KERNEL_NAME}
#: What the course's kernel reports and the build writes (``language_info``).
LANGUAGE_INFO = {
    **IPythonKernel.language_info,
    "version": f"{sys.version_info.major}.{sys.version_info.minor}",
}
#: The class that the kernel spec names, for ``--IPKernelApp.kernel_class``.
KERNEL_CLASS = "s3cours.noyau.Noyau"
#: The course's JupyterLab defaults (plugin -> settings), checked against the pinned
#: JupyterLab's schema (``@jupyterlab/apputils-extension/notification.json``):
#: ``fetchNews`` "false" is « Never » (the default "none" asks the question),
#: ``checkForUpdates`` false (it asks jupyter.org for a newer version).
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension:notification": {
        "fetchNews": "false",
        "checkForUpdates": False,
    }
}
#: The file of these defaults in a JupyterLab's settings folder.
OVERRIDES = Path("overrides.d") / "python-et-s3.json"


class Noyau(IPythonKernel):
    """ipykernel's kernel, reporting :data:`LANGUAGE_INFO`."""

    language_info = LANGUAGE_INFO


def kernel_json(python: str = sys.executable) -> dict:
    """The course's kernel spec: ipykernel's own, with :data:`KERNEL_CLASS`."""
    from ipykernel.kernelspec import get_kernel_dict

    spec = get_kernel_dict(
        extra_arguments=[f"--IPKernelApp.kernel_class={KERNEL_CLASS}"],
        python_arguments=["-Xfrozen_modules=off"],
    )
    spec["argv"][0] = python
    spec["display_name"] = DISPLAY_NAME
    return spec


def lab_settings_dir(prefix: str | Path) -> Path:
    """Where a JupyterLab installed in ``prefix`` reads its default settings."""
    return Path(prefix) / "share" / "jupyter" / "lab" / "settings"


def install(*, user: bool = False, prefix: str | None = None) -> list[Path]:
    """Install the kernel spec (for the user, or in ``prefix``) and, in a prefix, the
    JupyterLab defaults; return what was written. Nothing is rewritten that is already
    as it should be."""
    from jupyter_client.kernelspec import KernelSpecManager

    written = []
    manager = KernelSpecManager()
    spec = kernel_json()
    folder = (
        Path(manager.user_kernel_dir)
        if user
        else Path(prefix or sys.prefix) / "share" / "jupyter" / "kernels"
    ) / KERNEL_NAME
    found = folder / "kernel.json"
    if not found.exists() or json.loads(found.read_text()) != spec:
        with tempfile.TemporaryDirectory() as scratch:
            (Path(scratch) / "kernel.json").write_text(json.dumps(spec, indent=1))
            manager.install_kernel_spec(
                scratch,
                KERNEL_NAME,
                user=user,
                prefix=None if user else str(prefix or sys.prefix),
            )
        written.append(found)
    if not user:
        overrides = lab_settings_dir(prefix or sys.prefix) / OVERRIDES
        text = json.dumps(LAB_SETTINGS, indent=2) + "\n"
        if not overrides.exists() or overrides.read_text() != text:
            overrides.parent.mkdir(parents=True, exist_ok=True)
            overrides.write_text(text)
            written.append(overrides)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m s3cours.noyau",
        description="Installe le noyau Jupyter du cours (« Python et S3 ») et, dans un "
        "environnement, les réglages de JupyterLab du cours (pas de question sur les "
        "nouvelles de Jupyter).",
    )
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--user", action="store_true", help="pour votre compte")
    where.add_argument("--sys-prefix", action="store_true", help=f"dans {sys.prefix}")
    where.add_argument("--prefix", help="dans ce préfixe")
    args = parser.parse_args(argv)
    for path in install(user=args.user, prefix=args.prefix):
        print(f"Écrit : {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
