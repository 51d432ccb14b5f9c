"""No credential in the repository nor in any notebook output.

Shapes looked for: AWS access key ids, secret keys and session tokens (as values given
to a key-like name), and `MC_HOST_*` URLs carrying keys. The playground's admin user
name is the only key-like value allowed; its secret is made on each machine and never
written in the repository."""

from __future__ import annotations

import re
import subprocess

import nbformat
import pytest

from s3cours import config

ACCESS_KEY_ID = re.compile(r"\b(AKIA|ASIA|AGPA|AIDA|AROA)[A-Z0-9]{16}\b")
ASSIGNED_SECRET = re.compile(
    r"(?i)(secret[_-]?access[_-]?key|aws_secret|secret_key"
    r"|session[_-]?token|aws_session_token)"
    r"""["']?\s*[:=]\s*["']?([A-Za-z0-9/+=]{20,})"""
)
MC_HOST = re.compile(r"MC_HOST_\w+\s*=\s*\S*https?://([^:@\s/]+):([^@\s]+)@")
LONG_TOKEN = re.compile(r"\b[A-Za-z0-9/+]{200,}={0,2}")
#: The playground's admin user name and documentation placeholders.
ALLOWED = {config.PLAYGROUND_ACCESS_KEY, "CLÉ"}
#: Output types that hold binary data (images), not text.
BINARY_OUTPUTS = ("image/png", "image/jpeg")


def findings(text: str) -> list[str]:
    found = [
        m.group(0)
        for m in ACCESS_KEY_ID.finditer(text)
        if not m.group(0).endswith("EXAMPLE")
    ]
    found += [
        m.group(2) for m in ASSIGNED_SECRET.finditer(text) if m.group(2) not in ALLOWED
    ]
    found += [
        m.group(0)
        for m in MC_HOST.finditer(text)
        if m.group(1) not in ALLOWED and not m.group(1).startswith("$")
    ]
    found += [m.group(0)[:40] + "…" for m in LONG_TOKEN.finditer(text)]
    return found


def tracked_text_files() -> list[str]:
    names = subprocess.run(
        ["git", "ls-files"], cwd=config.ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    return [
        n
        for n in names
        if n != "requirements.lock" and not n.endswith((".png", ".ipynb"))
    ]


# Samples are assembled at run time so that this file itself holds no credential shape.
@pytest.mark.parametrize(
    "sample",
    [
        "AKIA" + "QWERTYUIOPASDFGH",
        "aws_secret_access_key = " + "wJalrXUtnFEMIK7MDENGbPxRfiCY" + "z" * 12,
        "export AWS_SESSION_TOKEN=" + "Ab1/" * 60,
        "MC_HOST_s3=https://"
        + "AKIAQWERTY"
        + ":"
        + "s3cr3tvalue"
        + "@minio.lab.sspcloud.fr",
    ],
)
def test_the_scanner_finds_credential_shapes(sample: str) -> None:
    assert findings(sample)


def test_the_scanner_lets_placeholders_through() -> None:
    text = (
        "MC_HOST_s3=https://$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY"
        "@$AWS_S3_ENDPOINT\n"
        "AKIAIOSFODNN7EXAMPLE\n"
    )
    assert findings(text) == []


def test_no_secret_in_tracked_files() -> None:
    leaks = {}
    for name in tracked_text_files():
        try:
            text = (config.ROOT / name).read_text()
        except (UnicodeDecodeError, FileNotFoundError):
            continue
        if found := findings(text):
            leaks[name] = found
    assert not leaks


def test_no_secret_and_no_local_key_in_notebook_outputs() -> None:
    from s3cours.playground import admin_secret

    for path in sorted(config.NOTEBOOKS_DIR.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            for output in cell.get("outputs", []):
                data = {
                    k: v
                    for k, v in output.get("data", {}).items()
                    if k not in BINARY_OUTPUTS
                }
                text = str({**output, "data": data})
                assert not findings(text), (path.name, findings(text))
                # Outputs never show keys at all, not even the local ones.
                assert admin_secret() not in text, path.name
                assert "@127.0.0.1" not in text, path.name  # the value of MC_HOST_s3
