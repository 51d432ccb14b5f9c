"""Short French explanations of the S3 errors learners meet, whatever the library.

boto3, s3fs and pyarrow raise different exception types for the same fault, but the S3
error code or the network symptom always appears in the message
(``SignatureDoesNotMatch``, ``SIGNATURE_DOES_NOT_MATCH``, ``wrong version number``…).
:func:`diagnose` recognises them; :func:`install` (called by every chapter's setup cell
when the course's tooling is installed) makes a Jupyter kernel print the explanation
under each traceback that comes from an S3 library.
"""

from __future__ import annotations

import re
import sys
import traceback
from dataclasses import dataclass


#: The course's troubleshooting page, where each common fault is raised and explained.
TROUBLESHOOTING = "07_depannage.ipynb"


@dataclass(frozen=True)
class Diagnosis:
    """What is wrong, what to do about it, and the section of the troubleshooting page
    that raises the same fault (empty: the page as a whole)."""

    what: str
    fix: str
    section: str = ""
    #: The chapter that explains it: its title, and its notebook.
    page: str = "Dépannage"
    notebook: str = TROUBLESHOOTING

    def __str__(self) -> str:
        where = f", « {self.section} »" if self.section else ""
        return (
            f"➜ {self.what}\n  À faire : {self.fix}\n"
            f"  En savoir plus : page {self.page} du cours ({self.notebook}{where})."
        )


def _spark(what: str, fix: str, section: str) -> Diagnosis:
    """A fault of Spark's S3A connector, explained in the chapter « Spark et S3 »."""
    return Diagnosis(what, fix, section, page="Spark et S3", notebook="08_spark.ipynb")


def _recipes(what: str, fix: str, section: str) -> Diagnosis:
    """A fault explained in the chapter « Recettes du quotidien »."""
    return Diagnosis(
        what, fix, section, page="Recettes du quotidien", notebook="09_recettes.ipynb"
    )


_REFRESH = (
    "sur le SSP Cloud, lancez un nouveau service, ou prenez des identifiants frais "
    "dans Stockage de données › Paramètres du profil (Détail du profil S3) ; après un "
    "renouvellement, recréez vos clients (s3fs et pandas : "
    "s3fs.S3FileSystem.clear_instance_cache())"
)

#: (pattern looked for in the exception's text, diagnosis), most specific first.
RULES: tuple[tuple[re.Pattern[str], Diagnosis], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), diagnosis)
    for pattern, diagnosis in (
        # Ceph RGW answers an STS request with S3's error body (<Error> alone, where
        # STS wraps it in <ErrorResponse>): botocore's query parser then finds no
        # "Error" key, names the error "Unknown", and refus.response["Error"] raises
        # KeyError: 'Error' (its context, the ClientError, came from botocore).
        (
            (
                r"KeyError: 'Error'"
                r"|\(Unknown\) when calling the (?:AssumeRole\w*|GetSessionToken"
                r"|GetCallerIdentity) operation"
            ),
            Diagnosis(
                "Le serveur a refusé la requête STS avec une erreur au format de S3 "
                "(Ceph RGW le fait) : botocore n'y trouve pas de champ Error, nomme "
                "l'erreur « Unknown », et refus.response['Error'] n'existe pas "
                "(KeyError).",
                "lisez le statut HTTP, toujours là, "
                "refus.response['ResponseMetadata']['HTTPStatusCode'], et le code "
                "avec refus.response.get('Error', refus.response).get('Code') ; avec "
                "des identifiants temporaires (ceux du SSP Cloud), un refus "
                "d'AssumeRole est attendu.",
                section="Qui fabrique les identifiants temporaires ?",
            ),
        ),
        (
            r"PreconditionFailed|pre-conditions? you specified did not hold"
            r"|\(412\) when calling",
            _recipes(
                "L'écriture était conditionnelle et la condition n'est pas remplie "
                "(412 PreconditionFailed) : avec IfNoneMatch='*' (s3fs : "
                "mode='create' ou 'xb' ; pandas : mode='x'), la clé existe déjà ; "
                "avec IfMatch, l'objet a changé depuis que vous avez lu son ETag. Rien "
                "n'a été écrit : l'objet en place est intact.",
                "pour un nouvel objet, choisissez une autre clé (ou supprimez "
                "d'abord l'ancien, s'il est à vous et ne sert plus) ; pour une mise à "
                "jour, relisez l'objet et son ETag, refaites la modification, puis "
                "réécrivez avec IfMatch=le nouvel ETag.",
                "Écrire sans écraser",
            ),
        ),
        (
            r"ConditionalRequestConflict",
            _recipes(
                "Une autre écriture conditionnelle sur la même clé était en cours "
                "(409 ConditionalRequestConflict) : le serveur a refusé celle-ci, "
                "rien n'a été écrit.",
                "relancez l'écriture ; pour une mise à jour avec IfMatch, relisez "
                "d'abord l'objet et son ETag.",
                "Écrire sans écraser",
            ),
        ),
        (
            r"ClassNotFoundException\W.*S3AFileSystem",
            _spark(
                "Spark n'a pas le connecteur S3A (le jar hadoop-aws) : il ne sait pas "
                "ouvrir un chemin s3a://.",
                "à la création de la session, ajoutez spark.jars.packages = "
                "org.apache.hadoop:hadoop-aws:<la version du Hadoop de Spark> (3.4.2 "
                "pour PySpark 4.1.1) ; sur le SSP Cloud, ouvrez un service PySpark, "
                "qui l'a déjà.",
                "ClassNotFoundException : le connecteur S3A manque",
            ),
        ),
        (
            r'No FileSystem for scheme "s3"',
            _spark(
                "Hadoop, donc Spark, ne connaît pas les chemins s3:// : son connecteur "
                "S3 s'appelle s3a.",
                "écrivez s3a://bucket/clé (boto3, s3fs, pandas et duckdb gardent "
                "s3://).",
                "s3:// au lieu de s3a://",
            ),
        ),
        (
            r"getFileStatus on s3a://.*(?:\b403\b|Forbidden)",
            _spark(
                "Le serveur refuse la première requête de Spark (un HEAD, d'où un 403 "
                "sans code d'erreur) : clé envoyée sans son jeton, jeton périmé, ou "
                "droits insuffisants.",
                "avec des identifiants temporaires, posez "
                "fs.s3a.aws.credentials.provider = org.apache.hadoop.fs.s3a."
                "TemporaryAWSCredentialsProvider et fs.s3a.session.token ; sinon, "
                "vérifiez la date d'expiration du jeton "
                f"(s3cours.aides.fin_du_jeton) : {_REFRESH}, puis recréez la session "
                "Spark (spark.stop()).",
                "403 : des clés sans leur jeton",
            ),
        ),
        (
            r"UnknownHostException",
            _spark(
                "Le nom d'hôte du serveur est inconnu ; s'il commence par le nom du "
                "bucket, S3A utilise l'adressage virtuel (le bucket dans le nom "
                "d'hôte), que MinIO n'attend pas.",
                "posez fs.s3a.path.style.access = true (et vérifiez fs.s3a.endpoint : "
                "l'hôte seul, celui d'AWS_S3_ENDPOINT).",
                "Adressage virtuel sur MinIO",
            ),
        ),
        (
            r"ExpiredToken|InvalidTokenId|TokenRefreshRequired"
            r"|security token included in the request is invalid",
            Diagnosis(
                "Le jeton de session (AWS_SESSION_TOKEN) est expiré ou invalide (Ceph "
                "RGW, lui, répond AccessDenied à un jeton expiré).",
                "remplacez ensemble clé d'accès, clé secrète et jeton ; "
                f"{_REFRESH} ; hors SSP Cloud, avec des clés permanentes, videz "
                "AWS_SESSION_TOKEN.",
                section="Jeton de session périmé",
            ),
        ),
        # Ceph RGW cannot decrypt a session token that is not one of its own (cut,
        # garbled, from another server): 400 InvalidArgument (measured on RGW 16).
        (
            r"InvalidArgument|INVALID_ARGUMENT",
            Diagnosis(
                "Le serveur refuse un argument de la requête (400 InvalidArgument) ; "
                "sur Ceph RGW, c'est aussi la réponse à un jeton de session "
                "(AWS_SESSION_TOKEN) illisible : mal copié, coupé, ou venu d'un autre "
                "serveur.",
                "si même une simple liste le reçoit, c'est le jeton : remplacez "
                f"ensemble clé d'accès, clé secrète et jeton ; {_REFRESH} ; sinon, "
                "relisez les paramètres de l'appel.",
                section="Jeton de session périmé",
            ),
        ),
        (
            r"SignatureDoesNotMatch|SIGNATURE_DOES_NOT_MATCH",
            Diagnosis(
                "La clé secrète (AWS_SECRET_ACCESS_KEY) ne "
                "correspond pas à la clé d'accès.",
                "vérifiez la variable (copie incomplète, "
                f"espace en trop) ; {_REFRESH}.",
                section="Mauvaise clé secrète",
            ),
        ),
        (
            r"InvalidAccessKeyId|INVALID_ACCESS_KEY_ID",
            Diagnosis(
                "Le serveur ne connaît pas cette clé d'accès (AWS_ACCESS_KEY_ID).",
                f"vérifiez la clé et le serveur visé (AWS_S3_ENDPOINT) ; {_REFRESH}.",
            ),
        ),
        (
            r"wrong version number|WRONG_VERSION_NUMBER|SSL connect error|curlCode: 35",
            Diagnosis(
                "Connexion chiffrée (https) vers un serveur qui ne parle que http.",
                "vérifiez l'adresse et le port (AWS_S3_ENDPOINT, sans http:// ni "
                "https://) : un serveur sur votre machine se joint en http://, les "
                "autres en https://, et la cellule de préparation choisit ainsi.",
                section="https sur un serveur http",
            ),
        ),
        (
            r"CERTIFICATE_VERIFY_FAILED|certificate verify failed",
            Diagnosis(
                "Le certificat du serveur n'est pas reconnu.",
                "vérifiez l'adresse du serveur ; ne désactivez pas la vérification.",
            ),
        ),
        (
            r"NoSuchBucket|specified bucket does not exist",
            Diagnosis(
                "Ce bucket n'existe pas sur ce serveur.",
                "vérifiez son nom (sans s3:// ni /) et le serveur visé.",
                section="Bucket absent",
            ),
        ),
        (
            r"NoSuchKey|specified key does not exist"
            r"|Path does not exist|FileNotFoundError",
            Diagnosis(
                "Aucun objet à cette clé (ou aucun fichier à ce chemin).",
                "listez le préfixe pour voir les clés qui "
                "existent (majuscules, extension).",
                section="Clé absente",
            ),
        ),
        # A HEAD request (metadata, the start of a download, pandas' first look at a
        # file) gets a 403 with no body, hence no error code: a wrong secret and a
        # missing right look the same. botocore says "(403) when calling the HeadObject
        # operation: Forbidden", pyarrow "ACCESS_DENIED during HeadObject operation: No
        # response body".
        (
            r"\(403\) when calling the Head\w+ operation"
            r"|during Head\w+ operation: No response body",
            Diagnosis(
                "Refus 403 sans motif : une requête HEAD (métadonnées, début "
                "d'un téléchargement ou d'une lecture) ne reçoit pas de code d'erreur. "
                "Deux causes possibles : une clé secrète ou un jeton faux, ou un droit "
                "qui vous manque sur ce bucket ou cette clé.",
                "listez le même chemin (ou lisez-le avec get_object) : le "
                "message nommera la cause (SignatureDoesNotMatch, "
                "ExpiredToken, AccessDenied…) ; pour écrire, visez votre "
                f"propre bucket ; si tout refuse, {_REFRESH}.",
                section="403 sans code d'erreur",
            ),
        ),
        (
            r"AccessDenied|ACCESS_DENIED|Access Denied|\b403\b|Forbidden",
            Diagnosis(
                "Accès refusé, pour l'une de trois raisons : ces identifiants n'ont "
                "pas de droit sur ce bucket ou cette clé ; ou la clé n'existe pas, là "
                "où vous n'avez pas le droit de lister tout le bucket (AWS et Ceph "
                "RGW répondent alors AccessDenied plutôt que NoSuchKey) ; ou, sur Ceph "
                "RGW, le jeton de session a expiré (MinIO dit ExpiredToken).",
                "écrivez dans votre propre bucket ; pour lire, listez le préfixe pour "
                "vérifier que la clé existe ; si tout refuse, même ce qui marchait, "
                f"{_REFRESH}.",
            ),
        ),
        # A server that accepted the connection but sends nothing in time: pyarrow (the
        # AWS SDK for C++) gives up after 3 s of silence by default (request_timeout),
        # boto3 and s3fs after their read_timeout (60 s). A busy server assembling a big
        # multipart object can stay silent longer than 3 s.
        (
            r"curlCode: 28|Operation too slow"
            r"|Read timeout on endpoint|ReadTimeoutError",
            Diagnosis(
                "Le serveur n'a rien envoyé dans le délai de la "
                "bibliothèque (pyarrow : 3 s de silence par défaut) : il "
                "est très occupé, ou le réseau est lent.",
                "relancez la cellule ; pour de gros objets, donnez plus de temps : "
                "pafs.S3FileSystem(..., request_timeout=60), ou "
                "Config(read_timeout=120) pour boto3.",
            ),
        ),
        (
            r"Could not connect to the endpoint|Connection refused|curlCode: 7"
            r"|Cannot connect to host|Could not connect to server"
            r"|Connect timeout|Name or service not known",
            Diagnosis(
                "Le serveur S3 ne répond pas : il est arrêté, ou l'adresse est fausse.",
                "vérifiez AWS_S3_ENDPOINT ; en local, relancez le bac à sable avec "
                "`./cours playground start`.",
            ),
        ),
    )
)


def _texts(exc: BaseException) -> str:
    """The exception's type names and messages, with its causes."""
    parts, seen, current = [], set(), exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        parts.append(f"{type(current).__name__}: {current}")
        current = current.__cause__ or current.__context__
    return "\n".join(parts)


def diagnose(exc: BaseException) -> Diagnosis | None:
    """The explanation of an S3 error, or None if it is not one we know."""
    text = _texts(exc)
    for pattern, diagnosis in RULES:
        if pattern.search(text):
            return diagnosis
    return None


#: Top-level packages whose frames mark an error as coming from an S3 call.
S3_LIBRARIES = (
    "boto3",
    "botocore",
    "s3transfer",
    "s3fs",
    "aiobotocore",
    "fsspec",
    "pyarrow",
    "polars",
    "pyspark",
    "py4j",
)


def from_s3_library(exc: BaseException) -> bool:
    """Whether the error, or one it was raised from, went through an S3 library."""
    seen, current = set(), exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        for frame, _ in traceback.walk_tb(current.__traceback__):
            if str(frame.f_globals.get("__name__", "")).split(".")[0] in S3_LIBRARIES:
                return True
        current = current.__cause__ or current.__context__
    return False


#: The setup cell leaves these undefined when nothing names the learner's space, so that
#: a cell that writes stops before any request (instead of sending an empty bucket
#: name).
SPACE_NAMES = ("MON_BUCKET", "MON_PREFIXE")
NO_SPACE = Diagnosis(
    "Aucun espace à vous n'est nommé : la cellule de préparation n'a défini ni "
    "MON_BUCKET ni MON_PREFIXE (ni les noms qu'on en tire), et cette cellule, qui "
    "écrit ou prépare une écriture, s'est arrêtée avant toute requête.",
    "posez S3COURS_ESPACE (ex. os.environ['S3COURS_ESPACE'] = 'votre-bucket/', ou "
    "'projet-x/' pour le bucket d'un projet), relancez la cellule de préparation, puis "
    "celle-ci.",
)


#: A DeleteObjects answer is HTTP 200 even when the server refused keys: they are in its
#: ``Errors``. The chapters check it in their clean-up cells and raise, from their own
#: code (no S3 library in the traceback), ``RuntimeError("objets non supprimés : N, dont
#: KEY : CODE (MESSAGE)")`` (the count after the words: French has no plural that fits
#: 0, 1 and more): « Recettes du quotidien », « Suppressions refusées en
#: partie ».
PARTIAL_DELETE = re.compile(r"^objets non supprimés : \d+, dont .+ : \w+")
PARTIAL_DELETE_DIAGNOSIS = _recipes(
    "Le serveur a répondu 200 à la suppression groupée (delete_objects) mais a refusé "
    "des clés : chacune est dans la liste Errors de la réponse, avec son code (celui "
    "de la première, après sa clé ci-dessus) ; les autres clés du lot sont bien "
    "supprimées.",
    "AccessDenied : la clé est hors de vos droits (le dossier diffusion/ ou le bucket "
    "d'un autre) : retirez-la du lot, vous ne pouvez pas la supprimer ; un autre "
    "code : lisez reponse['Errors'] clé par clé, corrigez, et ne relancez la "
    "suppression que de celles-là.",
    "Suppressions refusées en partie",
)


def explain(exc: BaseException, namespace: dict | None = None) -> Diagnosis | None:
    """What the chapters print under an error: the explanation of an S3 error, of a
    write attempted without a space (a name the setup cell left undefined, or one drawn
    from it: ``namespace``, the notebook's, says the setup cell found no space), or of
    the chapters' own check of a deletion that the server refused in part
    (:data:`PARTIAL_DELETE`); None for any other error."""
    if isinstance(exc, NameError) and (
        getattr(exc, "name", None) in SPACE_NAMES
        or (
            namespace is not None
            and namespace.get("ESPACE") == ""
            and "MON_BUCKET" not in namespace
        )
    ):
        return NO_SPACE
    if isinstance(exc, RuntimeError) and PARTIAL_DELETE.search(str(exc)):
        return PARTIAL_DELETE_DIAGNOSIS
    return diagnose(exc) if from_s3_library(exc) else None


def install(shell=None) -> None:  # noqa: ANN001 - an IPython shell
    """Print the explanation under the traceback of every recognised S3 error: in this
    kernel (a notebook, IPython), or, in a plain Python script, under the traceback that
    stops it (on the error output, through :data:`sys.excepthook`). In a script, the one
    line is ``from s3cours.diagnostic import install; install()``.

    Other errors (a local file, a typo in Python) are shown as usual, nothing added."""
    if shell is None:
        try:
            from IPython import get_ipython
        except ImportError:  # a script in an environment without IPython
            get_ipython = None  # noqa: N806 - the function's own name
        shell = get_ipython() if get_ipython else None
    if shell is None:
        _install_in_script()
        return

    # IPython's signature.
    def handler(self, etype, value, tb, tb_offset=None):  # noqa: ANN001
        self.showtraceback((etype, value, tb), tb_offset=tb_offset)
        diagnosis = explain(value, self.user_ns)
        if diagnosis is not None:
            print(diagnosis)

    shell.set_custom_exc((Exception,), handler)


def _install_in_script() -> None:
    """The script's version of :func:`install`: Python's own traceback, then the
    explanation, both on the error output."""
    previous = sys.excepthook
    if getattr(previous, "s3cours", False):  # already installed
        return

    def hook(etype, value, tb) -> None:  # noqa: ANN001 - sys.excepthook's signature
        previous(etype, value, tb)
        main = sys.modules.get("__main__")
        diagnosis = explain(value, vars(main) if main else None)
        if diagnosis is not None:
            print(diagnosis, file=sys.stderr)

    hook.s3cours = True  # type: ignore[attr-defined]
    sys.excepthook = hook
