"""Learner identities on the playground, made the way SSP Cloud makes them.

On SSP Cloud (Onyxia, "multi" bucket mode), a user owns a bucket named after them, and
the Onyxia web client asks MinIO's STS (``AssumeRole…``) for temporary credentials under
a session policy: ``s3:*`` on the user's bucket, ``s3:ListBucket`` anywhere but only for
prefixes ``diffusion/*``, ``s3:GetObject`` on ``*/diffusion/*``, for 7 days. Source: the
InseeFrLab/onyxia web client, its S3 client adapter (search
``arn:aws:s3:::*/diffusion/*``), which requests ``durationSeconds`` ``7 * 24 * 3600`` by
default.

The playground does the same with MinIO's own identities: each learner is a MinIO user
(whose long-term keys only the course tooling holds) with that policy attached and a
bucket of their name; a notebook only ever gets STS session credentials from
``AssumeRole`` with the same session policy. The admin (root) keys stay inside the
tooling: they create users, policies and buckets, and seed the course data.

moto has STS and accepts any credentials but enforces no policy (its IAM checks are off
in server mode): with moto the variables have the same names and forms, the refusals do
not happen.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from . import config

#: What Onyxia requests for a token (seconds): 7 days.
SESSION_SECONDS = 7 * 24 * 3600
#: A learner's name is their bucket's: S3's bucket naming rules, no leading digit clash.
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
#: Ignored by MinIO's AssumeRole, required by boto3's request shape.
ROLE_ARN = "arn:minio:iam:::role/onyxia"


class LearnerError(RuntimeError):
    """A learner could not be created or given credentials; the message says why."""


def mc_host(endpoint_url: str, key: str, secret: str, token: str | None = None) -> str:
    """The value of an ``MC_HOST_<alias>`` variable of the MinIO client, in the form of
    SSP Cloud's images (``https://KEY:SECRET:TOKEN@HOST``, InseeFrLab/images-datascience
    0a611ea, base/scripts/onyxia-init.sh); no token, no third field."""
    scheme, _, host = endpoint_url.rstrip("/").partition("://")
    return f"{scheme}://{':'.join([key, secret, *filter(None, [token])])}@{host}"


def check_name(name: str) -> str:
    if not NAME_PATTERN.match(name) or "--" in name:
        raise LearnerError(
            f"Nom d'apprenant refusé : « {name} ». C'est aussi le nom de son bucket : "
            "3 à 63 caractères, minuscules, chiffres et tirets (ex. eleve-01)."
        )
    return name


def space(env: dict[str, str]) -> tuple[str, str] | None:
    """(bucket, key prefix) of the space a service's variables name, found as the
    chapters' setup cell finds it: ``S3COURS_ESPACE``, else a non-empty
    ``AWS_WORKING_DIRECTORY_PATH`` (Onyxia 10), else the service's namespace (Onyxia 11:
    ``user-<name>`` -> ``<name>``, ``projet-x`` -> ``projet-x``); None when nothing
    names one."""
    namespace = env.get("KUBERNETES_NAMESPACE", "")
    from_namespace = (
        namespace.removeprefix("user-")
        if namespace.startswith(("user-", "projet-"))
        else ""
    )
    path = next(
        (
            value.strip("/")
            for value in (
                env.get(config.SPACE_VARIABLE, ""),
                env.get("AWS_WORKING_DIRECTORY_PATH", ""),
                from_namespace,
            )
            if value.strip("/")
        ),
        "",
    )
    if not path:
        return None
    bucket, _, prefix = path.partition("/")
    return bucket, prefix + "/" if prefix else ""


def onyxia_policy(bucket: str) -> dict:
    """Onyxia's session policy for ``bucket``'s owner (same statements, same order)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["s3:*"],
                "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
            },
            {
                "Effect": "Allow",
                "Action": ["s3:ListBucket"],
                "Resource": ["arn:aws:s3:::*"],
                "Condition": {"StringLike": {"s3:prefix": "diffusion/*"}},
            },
            {
                "Effect": "Allow",
                "Action": ["s3:GetObject"],
                "Resource": ["arn:aws:s3:::*/diffusion/*"],
            },
        ],
    }


def compact_policy(policy: dict) -> str:
    """A policy as compact JSON, no space: what Ceph RGW 16 accepts in a form-encoded
    request (a space arrives as ``+`` and the policy is refused); MinIO takes it too."""
    return json.dumps(policy, separators=(",", ":"))


def policy_name(learner: str) -> str:
    return f"onyxia-{learner}"


def user_secret(admin_secret: str, learner: str) -> str:
    """The learner's long-term MinIO secret: made from the admin secret, never shown."""
    digest = hmac.new(
        admin_secret.encode(), learner.encode(), hashlib.sha256
    ).hexdigest()
    return digest[:40]


@dataclass(frozen=True)
class Admin:
    """How the tooling reaches the server as its administrator."""

    endpoint_url: str  # scheme://host:port
    access_key: str
    secret_key: str
    ca_file: str | None  # the test CA when the server speaks https with it
    mc: Path | None  # the MinIO client, for its admin commands (None: moto)

    def mc_run(
        self, *args: str, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Run ``mc ARGS`` against the server under the alias ``admin``."""
        assert self.mc is not None
        env = {
            **os.environ,
            "MC_HOST_admin": mc_host(
                self.endpoint_url, self.access_key, self.secret_key
            ),
        }
        if self.ca_file:
            env["SSL_CERT_FILE"] = self.ca_file
        with tempfile.TemporaryDirectory(prefix="s3cours-mc-") as config_dir:
            done = subprocess.run(
                [str(self.mc), "--config-dir", config_dir, "--json", *args],
                capture_output=True,
                text=True,
                env=env,
                timeout=60,
                check=False,
            )
        if check and done.returncode != 0:
            raise LearnerError(
                f"mc {' '.join(args[:3])} a échoué : "
                f"{(done.stdout + done.stderr).strip()[-500:]}"
            )
        return done


def ensure_user(admin: Admin, learner: str, policy: dict | None = None) -> None:
    """Create (or update) the MinIO user ``learner`` with its policy; idempotent.

    ``policy`` defaults to Onyxia's session policy for the learner's bucket; a trainer's
    check (or a test) may pass another one to see that it is caught."""
    check_name(learner)
    if admin.mc is None:  # moto: no users, no policies
        return
    admin.mc_run(
        "admin", "user", "add", "admin", learner, user_secret(admin.secret_key, learner)
    )
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(policy or onyxia_policy(learner), handle)
    try:
        admin.mc_run(
            "admin", "policy", "create", "admin", policy_name(learner), handle.name
        )
    finally:
        os.unlink(handle.name)
    attached = admin.mc_run(
        "admin",
        "policy",
        "attach",
        "admin",
        policy_name(learner),
        "--user",
        learner,
        check=False,
    )
    if attached.returncode != 0 and "already" not in attached.stdout + attached.stderr:
        raise LearnerError(
            f"Politique non attachée à {learner} : "
            f"{(attached.stdout + attached.stderr).strip()[-500:]}"
        )


def remove_user(admin: Admin, learner: str) -> None:
    """Remove the user and its policy (not its bucket); missing ones are fine."""
    if admin.mc is None:
        return
    admin.mc_run("admin", "user", "remove", "admin", learner, check=False)
    admin.mc_run(
        "admin", "policy", "remove", "admin", policy_name(learner), check=False
    )


@dataclass(frozen=True)
class Session:
    """Temporary credentials, as STS returns them."""

    access_key: str
    secret_key: str
    token: str
    expiration: str  # ISO 8601, UTC


def session_credentials(
    endpoint_url: str,
    learner: str,
    secret: str,
    region: str,
    ca_file: str | None = None,
    seconds: int = SESSION_SECONDS,
    *,
    role_arn: str = ROLE_ARN,
    session_name: str | None = None,
    bucket: str | None = None,
    revocable: bool = True,
) -> Session:
    """STS ``AssumeRole`` as the learner (long-term key), under Onyxia's session policy
    (for ``bucket``, default the learner's), sent as compact JSON (Ceph RGW refuses a
    policy with spaces).

    Returns fresh temporary credentials. With ``revocable`` (MinIO), each set gets a
    revocation type of its own (MinIO's ``TokenRevokeType``, carried by the session
    token): :func:`revoke` can then end this set, and only it. Ceph RGW assumes
    ``role_arn`` (MinIO ignores it) and cannot revoke. moto takes any key, with the
    same shapes."""
    import secrets

    import boto3
    from botocore.config import Config

    sts = boto3.client(
        "sts",
        endpoint_url=endpoint_url,
        region_name=region,
        aws_access_key_id=learner,
        aws_secret_access_key=secret,
        verify=ca_file or True,
        # Three attempts in all ("max_attempts" would count retries).
        config=Config(
            retries={"total_max_attempts": 3}, connect_timeout=10, read_timeout=30
        ),
    )
    revoke_type = f"{REVOKE_TYPE_PREFIX}{secrets.token_hex(6)}"

    def with_revoke_type(params: dict, **_: object) -> None:
        # A MinIO parameter of AssumeRole (cmd/sts-handlers.go), unknown to botocore.
        params["body"]["TokenRevokeType"] = revoke_type

    if revocable:
        sts.meta.events.register("before-call.sts.AssumeRole", with_revoke_type)
    answer = sts.assume_role(
        RoleArn=role_arn,
        RoleSessionName=session_name or learner,
        Policy=compact_policy(onyxia_policy(bucket or learner)),
        DurationSeconds=seconds,
    )
    creds = answer["Credentials"]
    return Session(
        creds["AccessKeyId"],
        creds["SecretAccessKey"],
        creds["SessionToken"],
        creds["Expiration"].isoformat(),
    )


#: The start of each credential set's revocation type (:func:`session_credentials`).
REVOKE_TYPE_PREFIX = "s3cours-"


def revoke_type(token: str) -> str | None:
    """The revocation type a session token carries (its JWT claims), if any."""
    import base64

    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        payload = base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4))
        claims = json.loads(payload)
    except ValueError:
        return None
    found = claims.get("tokenRevokeType") if isinstance(claims, dict) else None
    return found if isinstance(found, str) and found else None


def revoke(
    endpoint_url: str,
    learner: str,
    secret: str,
    region: str,
    token_type: str,
    ca_file: str | None = None,
) -> None:
    """End the learner's temporary credentials of ``token_type`` at once, as if they had
    expired: MinIO's admin call ``revoke-tokens``, which a user may make for their own
    credentials (``cmd/admin-handlers-users.go``, ``RevokeTokens``), signed with the
    learner's long-term key, not with the admin keys."""
    import urllib.error
    import urllib.parse
    import urllib.request

    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    query = urllib.parse.urlencode({"tokenRevokeType": token_type})
    request = AWSRequest(
        method="POST",
        url=f"{endpoint_url}/minio/admin/v3/revoke-tokens/builtin?{query}",
        data=b"",
    )
    S3SigV4Auth(Credentials(learner, secret), "s3", region).add_auth(request)
    prepared = request.prepare()
    context = None
    if endpoint_url.startswith("https://"):
        import ssl

        context = ssl.create_default_context(cafile=ca_file)
    call = urllib.request.Request(
        prepared.url, data=b"", headers=dict(prepared.headers), method="POST"
    )
    try:
        with urllib.request.urlopen(call, timeout=30, context=context) as answer:
            status = answer.status
    except urllib.error.HTTPError as refused:
        raise LearnerError(
            f"Révocation refusée par le serveur ({refused.code}) : "
            f"{refused.read().decode(errors='replace')[:300]}"
        ) from None
    except urllib.error.URLError as down:
        raise LearnerError(
            f"Révocation impossible : le serveur ne répond pas ({down.reason})"
        ) from None
    if status != 204:
        raise LearnerError(f"Révocation : réponse inattendue du serveur ({status})")
