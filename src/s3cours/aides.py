"""Small helpers the chapters import by name, so that a lesson shows only what a learner
writes in their own project.

Each one does what a learner would do by hand in a terminal (run ``mc``, run Snakemake),
and prints only the lines that matter; or plays a part that a lesson needs without
teaching it (someone who opens a link without credentials, a browser that sends a form).
Their messages and docstrings are in French, as the chapters are: a learner reads them
with ``help()`` or ``??``.
"""

from __future__ import annotations

import base64
import json
import math
import os
import shlex
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from . import learners

if TYPE_CHECKING:
    from collections.abc import Hashable, Mapping

    import pandas as pd
    from botocore.client import BaseClient

#: Ce que peut être une colonne (ou une ligne) d'un tableau écrit à la française.
Genre = Literal["entier", "decimal", "duree", "rapport", "pourcentage"]
_GENRES: tuple[Genre, ...] = ("entier", "decimal", "duree", "rapport", "pourcentage")
#: Espace fine insécable : entre les milliers (« 2 710 988 ») et avant « % ».
_FINE = "\u202f"

#: The lines of ``mc``'s output that are a table of transfer rates or of variables: they
#: change at every run and say nothing about the result.
_MC_TABLE = ("┌", "│", "└")
#: The lines of Snakemake's log worth showing: what it fetched, stored and ran.
_SNAKEMAKE_LINES = (
    "Retrieving",
    "Storing",
    "localrule",
    "    input:",
    "    output:",
    "Nothing",
)


def mc(*arguments: str, afficher: bool = True) -> str | None:
    """Lance ``mc ARGUMENTS...`` comme dans un terminal, avec l'alias ``s3`` du service.

    Affiche ce que ``mc`` écrit (sans le tableau de débits qui finit ``mc cp``), ou le
    renvoie avec ``afficher=False``. Une commande qui échoue lève ``RuntimeError`` avec
    le message de ``mc``."""
    if shutil.which("mc") is None:
        raise RuntimeError(
            "Commande mc introuvable : installez le client MinIO (sur le SSP "
            "Cloud, il est déjà là ; ailleurs, ./cours le fournit)."
        )
    environnement = {**os.environ, **alias_s3()}
    if not environnement.get("MC_HOST_s3"):
        raise RuntimeError(
            "Alias s3 non défini : la variable MC_HOST_s3 manque (le SSP "
            "Cloud et le bac à sable du cours la posent), et les variables "
            "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY et AWS_S3_ENDPOINT aussi (la "
            "cellule de préparation les tire d'un profil nommé par AWS_PROFILE)."
        )
    fin = subprocess.run(
        ["mc", *arguments], capture_output=True, text=True, env=environnement
    )
    if fin.returncode != 0:
        raise RuntimeError(f"mc {' '.join(arguments)} : {fin.stderr.strip()}")
    sortie = "".join(
        ligne
        for ligne in fin.stdout.splitlines(keepends=True)
        if not ligne.startswith(_MC_TABLE)
    )
    if not afficher:
        return sortie
    print(sortie, end="")
    return None


def alias_s3() -> dict[str, str]:
    """``MC_HOST_s3`` faite des variables S3, quand elle manque : un service qui n'a
    qu'un profil nommé (``AWS_PROFILE``), dont la cellule de préparation a tiré les
    variables, ou des variables posées à la main. ``mc`` ne lit pas les profils AWS ;
    l'alias prend la forme de celui des images du SSP Cloud
    (``https://CLÉ:SECRET:JETON@HÔTE``, InseeFrLab/images-datascience 0a611ea,
    base/scripts/onyxia-init.sh). Vide si ``MC_HOST_s3`` est déjà là ou si une
    variable manque."""
    env = os.environ
    if env.get("MC_HOST_s3") or not all(
        env.get(nom)
        for nom in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_S3_ENDPOINT")
    ):
        return {}
    hote = env["AWS_S3_ENDPOINT"].split("://")[-1]
    url = env.get("AWS_ENDPOINT_URL") or f"https://{hote}"
    return {
        "MC_HOST_s3": learners.mc_host(
            url,
            env["AWS_ACCESS_KEY_ID"],
            env["AWS_SECRET_ACCESS_KEY"],
            env.get("AWS_SESSION_TOKEN"),
        )
    }


def snakemake(dossier: Path, **config: str) -> None:
    """Lance ``snakemake --cores 1 --force-use-threads --forceall --config
    CLÉ=VALEUR...`` dans ``dossier``, comme dans un terminal, et n'affiche que les
    lignes utiles de son journal (ce qui est téléchargé, envoyé, exécuté). En cas
    d'échec, affiche le journal entier et lève l'erreur."""
    commande = [
        sys.executable,
        "-m",
        "snakemake",
        "--cores",
        "1",
        "--force-use-threads",
        "--forceall",
        "--config",
        *(f"{cle}={valeur}" for cle, valeur in config.items()),
    ]
    try:
        fin = subprocess.run(
            commande, cwd=dossier, capture_output=True, text=True, check=True
        )
    except subprocess.CalledProcessError as erreur:
        print(erreur.stderr)
        raise
    for ligne in fin.stderr.splitlines():
        if ligne.startswith(_SNAKEMAKE_LINES) or "steps (100%) done" in ligne:
            print(ligne)


def en_octets(taille: int) -> str:
    """Une taille écrite à la française : 1214752 -> « 1 214 752 octets »."""
    return f"{taille:,} octets".replace(",", "\u202f")  # espace fine insécable


def _nombre(valeur: float, decimales: int) -> str:
    """``valeur`` avec ``decimales`` chiffres après la virgule, milliers séparés."""
    arrondi = round(valeur, decimales) + 0.0  # + 0.0 : jamais « -0,0 »
    return f"{arrondi:,.{decimales}f}".replace(",", _FINE).replace(".", ",")


def _significatif(valeur: float, chiffres: int = 2) -> str:
    """``valeur`` avec ``chiffres`` chiffres significatifs, sans arrondir sa partie
    entière : 0.04417 -> « 0,044 », 1.0213 -> « 1,0 », 12.816 -> « 13 »,
    123.4 -> « 123 »."""
    if abs(valeur) >= 10 ** (chiffres - 1):
        return _nombre(valeur, max(0, chiffres - len(str(int(abs(valeur))))))
    arrondi = float(f"{valeur:.{chiffres}g}")
    if arrondi == 0:
        return "0"
    return _nombre(arrondi, max(0, chiffres - 1 - math.floor(math.log10(abs(arrondi)))))


def _ecrire(valeur: object, genre: Genre, decimales: int, ou: str) -> str:
    """Une valeur écrite selon son genre ; une valeur manquante devient « NaN »."""
    import pandas as pd

    if (
        valeur is None
        or valeur is pd.NA
        or valeur is pd.NaT
        or (isinstance(valeur, float) and math.isnan(valeur))
    ):
        return "NaN"
    if isinstance(valeur, bool) or not isinstance(valeur, (int, float)):
        try:  # les nombres de numpy (numpy.int64, numpy.float64…)
            valeur = valeur.item()  # type: ignore[attr-defined]
        except AttributeError:
            pass
        if isinstance(valeur, bool) or not isinstance(valeur, (int, float)):
            raise TypeError(
                f"{ou} : {valeur!r} n'est pas un nombre, on ne peut pas "
                f"l'écrire comme « {genre} » ; ne donnez un genre qu'aux "
                "colonnes de nombres."
            )
        if isinstance(valeur, float) and math.isnan(valeur):
            return "NaN"
    if math.isinf(valeur):
        return "∞" if valeur > 0 else "-∞"
    if genre == "entier":
        return f"{round(valeur):,}".replace(",", _FINE)
    if genre == "decimal":
        return _nombre(valeur, decimales)
    if genre == "pourcentage":
        return _nombre(valeur * 100, decimales) + _FINE + "%"
    return _significatif(valeur)  # duree, rapport


def _verifier(genres: Mapping[Hashable, str], noms: pd.Index, quoi: str) -> None:
    """Des genres connus, pour des colonnes (ou lignes) qui existent."""
    for nom, genre in genres.items():
        if genre not in _GENRES:
            raise ValueError(
                f"Genre inconnu pour {nom!r} : {genre!r} ; les genres "
                f"possibles sont {', '.join(_GENRES)}."
            )
        if nom not in noms:
            raise KeyError(
                f"Pas de {quoi} {nom!r} dans le tableau ; ses {quoi}s : "
                f"{', '.join(map(repr, noms))}."
            )


def a_la_francaise(
    donnees: pd.DataFrame | pd.Series,
    genres: Genre | Mapping[Hashable, Genre] | None = None,
    *,
    lignes: Mapping[Hashable, Genre] | None = None,
    decimales: int = 1,
) -> pd.DataFrame:
    """Un tableau pandas écrit à la française, colonne par colonne : un DataFrame de
    textes, qui s'affiche de même dans JupyterLab, sur le site et avec ``print``.

    ``genres`` dit comment écrire chaque colonne : un genre pour toutes, ou un
    dictionnaire ``{colonne: genre}``. Les genres :

    - ``"entier"`` : arrondi à l'unité, milliers séparés, « 2 710 988 » ;
    - ``"decimal"`` : ``decimales`` chiffres après la virgule, « 20 318,7 » ;
    - ``"duree"`` et ``"rapport"`` : deux chiffres significatifs, « 0,044 », « 1,5 » ;
    - ``"pourcentage"`` : une fraction écrite en pour cent, « 0.448 » -> « 44,8 % ».

    Une colonne de nombres sans genre s'écrit selon son type (``"entier"`` pour des
    entiers, ``"decimal"`` pour des flottants) ; les autres colonnes restent telles
    quelles. ``lignes={ligne: genre}`` donne le genre par ligne, pour un tableau dont
    chaque ligne est une mesure, comme celui de ``describe()``. Une Series devient un
    tableau d'une colonne : son nom en tête, sans la ligne ``Name: …, dtype: …``.
    Une valeur manquante s'écrit « NaN ».
    """
    import pandas as pd

    if isinstance(donnees, pd.Series):
        donnees = donnees.to_frame(name="" if donnees.name is None else donnees.name)
    if not isinstance(donnees, pd.DataFrame):
        raise TypeError(
            f"a_la_francaise attend un DataFrame ou une Series pandas, pas "
            f"{type(donnees).__name__} (avec polars : .to_pandas() ; avec "
            "duckdb : .df())."
        )
    if isinstance(genres, str):
        genres = dict.fromkeys(donnees.columns, genres)
    genres = dict(genres or {})
    _verifier(genres, donnees.columns, "colonne")
    _verifier(lignes or {}, donnees.index, "ligne")
    lignes = dict(lignes or {})
    colonnes: dict[int, object] = {}
    for i, nom in enumerate(donnees.columns):
        serie = donnees.iloc[:, i]
        genre = genres.get(nom)
        if (
            genre is None
            and pd.api.types.is_numeric_dtype(serie)
            and not (pd.api.types.is_bool_dtype(serie))
        ):
            genre = "entier" if pd.api.types.is_integer_dtype(serie) else "decimal"
        if genre is None and not lignes:
            colonnes[i] = serie.array  # du texte, des dates… : tels quels
            continue
        par_ligne = [lignes.get(ligne, genre) for ligne in donnees.index]
        colonnes[i] = [
            valeur
            if g is None
            else _ecrire(valeur, g, decimales, f"colonne {nom!r}, ligne {ligne!r}")
            for g, ligne, valeur in zip(par_ligne, donnees.index, serie, strict=True)
        ]
    sortie = pd.DataFrame(colonnes, index=donnees.index)
    sortie.columns = donnees.columns
    return sortie


# ---------------------------------------------- « Partager des données » : l'autre côté


def sans_identifiants(
    url: str,
    methode: str = "GET",
    donnees: bytes | None = None,
    entetes: dict[str, str] | None = None,
) -> tuple[int, bytes]:
    """Ouvre ``url`` comme n'importe qui : avec ``urllib``, sans clé ni jeton, en
    n'envoyant que l'adresse, ``donnees`` et ``entetes``. Rend le code HTTP et les
    octets reçus ; un refus (``403``, ``404``…) est rendu, pas levé."""
    requete = urllib.request.Request(
        url, data=donnees, method=methode, headers=entetes or {}
    )
    try:
        with urllib.request.urlopen(requete, timeout=30) as reponse:
            return reponse.status, reponse.read()
    except urllib.error.HTTPError as refus:
        return refus.code, refus.read()


def verdict(code: int, corps: bytes) -> str:
    """Une ligne : le code HTTP et la taille reçue ; pour un refus, le code d'erreur S3
    lu dans le petit XML que renvoie le serveur (« HTTP 403 : AccessDenied »). Pas son
    message : il dépend du serveur (Ceph RGW n'en envoie souvent pas), le code non."""
    if code < 300:
        return f"HTTP {code} : {en_octets(len(corps))} reçus"
    try:
        erreur = ET.fromstring(corps).findtext("Code")
    except ET.ParseError:
        erreur = None
    return f"HTTP {code} : {erreur}" if erreur else f"HTTP {code}"


def decrire(lien: str) -> None:
    """Affiche ce qu'on peut dire d'un lien présigné sans rien en révéler : son hôte et
    son chemin, sa forme de signature (V2 ou V4), sa durée de validité, s'il emporte un
    jeton de session, et le nom (pas la valeur) de ses paramètres."""
    morceaux = urllib.parse.urlsplit(lien)
    parametres = urllib.parse.parse_qs(morceaux.query)
    if "X-Amz-Signature" in parametres:
        forme, duree = "signature V4", int(parametres["X-Amz-Expires"][0])
    else:  # signature V2 : « Expires » est une heure (secondes depuis 1970)
        forme = "signature V2"
        duree = round(int(parametres["Expires"][0]) - time.time(), -1)
    jeton = any(nom.lower() == "x-amz-security-token" for nom in parametres)
    print(f"hôte {morceaux.netloc}, chemin {morceaux.path}")
    jours, reste = divmod(int(duree), 86_400)
    en_jours = (
        f" ({jours} jour{'s' if jours > 1 else ''})" if jours and not reste else ""
    )
    print(
        f"{forme}, valable {_nombre(duree, 0)} s{en_jours}, "
        f"jeton de session dans le lien : {'oui' if jeton else 'non'}"
    )
    print("paramètres :", ", ".join(sorted(parametres, key=str.lower)))


def multipart(
    champs: dict[str, str], contenu: bytes, nom: str = "fichier.csv"
) -> tuple[bytes, dict[str, str]]:
    """Le corps d'un formulaire ``multipart/form-data``, comme l'envoie un navigateur ou
    ``curl -F`` : les ``champs`` d'abord, le fichier (``contenu``, nommé ``nom``) en
    dernier ; et l'en-tête ``Content-Type`` qui va avec."""
    limite = "----cours-python-s3"
    morceaux = [
        f'--{limite}\r\nContent-Disposition: form-data; name="{cle}"\r\n\r\n'
        f"{valeur}\r\n".encode()
        for cle, valeur in champs.items()
    ]
    morceaux.append(
        f'--{limite}\r\nContent-Disposition: form-data; name="file"; '
        f'filename="{nom}"\r\nContent-Type: text/csv\r\n\r\n'.encode()
        + contenu
        + f"\r\n--{limite}--\r\n".encode()
    )
    entete = {"Content-Type": f"multipart/form-data; boundary={limite}"}
    return b"".join(morceaux), entete


def fin_du_jeton(jeton: str) -> datetime | None:
    """L'heure d'expiration (UTC) écrite dans un jeton de session MinIO, ou None si le
    jeton est d'un autre format. MinIO écrit ses jetons au format JWT : trois morceaux
    séparés par des points, dont le deuxième est un JSON en base64 qui porte ``exp``. On
    le lit sans vérifier la signature : on ne fait que lire.

    Ceph RGW (et AWS) rendent un jeton chiffré, illisible hors du serveur : None. Leur
    fin est l'``Expiration`` que rend STS avec les identifiants, et, sur le SSP Cloud,
    le « Expire le… » du profil S3 (Stockage de données › Paramètres du profil)."""
    try:
        charge = jeton.split(".")[1]
        texte = base64.urlsafe_b64decode(charge + "=" * (-len(charge) % 4))
        return datetime.fromtimestamp(json.loads(texte)["exp"], timezone.utc)
    except (IndexError, ValueError, KeyError, TypeError):
        return None


# ------------------------------------------------ « Dépannage » : renouveler, en direct

#: Les clés d'accès que :func:`renouveler_identifiants` a données dans ce noyau : elle
#: ne révoque que celles-là, jamais celles du démarrage du service (d'autres processus
#: peuvent s'en servir).
_DONNEES: set[str] = set()


def renouveler_identifiants() -> None:
    """Sur le bac à sable du cours, joue le datalab : met dans ``os.environ`` des
    identifiants neufs (clé, secret, jeton, et ``MC_HOST_s3``), comme le bouton
    « Renouveler les jetons » du SSP Cloud. Si les identifiants actuels sont de
    précédents qu'elle a donnés, le bac à sable les révoque aussitôt, comme s'ils
    avaient expiré. Elle appelle ``./cours playground env --renouveler``, qui signe avec
    la clé de l'apprenant gardée par l'outillage : aucune clé permanente ne passe par
    ce noyau. Ailleurs (SSP Cloud, AWS), ne change rien et dit où renouveler."""
    from . import config

    base = [sys.executable, "-m", "s3cours.cli", "playground"]
    etat = os.environ.get(config.PLAYGROUND_VARIABLE)
    if etat:
        base += ["--state-dir", etat]
    espace = os.environ.get("KUBERNETES_NAMESPACE", "")
    if espace.startswith("user-"):
        base += ["--apprenant", espace.removeprefix("user-")]
    en_cours = subprocess.run(
        [*base, "status"], capture_output=True, text=True, check=False
    )
    revoquer = os.environ.get("AWS_ACCESS_KEY_ID", "") in _DONNEES
    reponse = (
        subprocess.run(
            [*base, "env", *(["--renouveler"] if revoquer else [])],
            capture_output=True,
            text=True,
            check=False,
        )
        if en_cours.returncode == 0
        else None
    )
    neuves = {}
    for ligne in (reponse.stdout if reponse and reponse.returncode == 0 else "").split(
        "\n"
    ):
        mots = shlex.split(ligne)
        if len(mots) == 2 and mots[0] == "export" and "=" in mots[1]:
            nom, _, valeur = mots[1].partition("=")
            neuves[nom] = valeur
    if neuves.get("AWS_S3_ENDPOINT") != os.environ.get("AWS_S3_ENDPOINT"):
        print(
            "Pas de bac à sable du cours derrière AWS_S3_ENDPOINT : rien n'est "
            "renouvelé ici. Sur le SSP Cloud, « Renouveler les jetons » est dans le "
            "profil S3 de l'explorateur (Stockage de données › Paramètres du profil) ; "
            "copiez les trois valeurs dans os.environ. Vos identifiants actuels "
            "restent valables : les cellules suivantes réussissent."
        )
        return
    os.environ.update(neuves)
    _DONNEES.add(neuves["AWS_ACCESS_KEY_ID"])
    # Ce que le bac à sable a fait : Ceph RGW, lui, ne révoque rien.
    revoques = revoquer and reponse is not None and "sont révoqués" in reponse.stderr
    fin = fin_du_jeton(neuves.get("AWS_SESSION_TOKEN", ""))
    duree = fin and round((fin - datetime.now(timezone.utc)).total_seconds() / 86400)
    print(
        "Identifiants neufs dans os.environ"
        + (f", valables {duree} jours" if duree else "")
        + " ; "
        + (
            "les précédents sont révoqués, comme expirés."
            if revoques
            else "les précédents restent valables jusqu'à leur fin (ce serveur ne "
            "révoque pas)."
            if revoquer
            else "ceux du démarrage du service restent valables."
        )
    )


# ----------------------------------------------------------- « Gros volumes » : l'envoi


def parties(client: BaseClient, bucket: str, cle: str) -> int:
    """Le nombre de parties dont le serveur a assemblé l'objet ``cle``, lu dans son
    ETag : celui d'un objet envoyé en N parties finit par ``-N`` ; sans ce suffixe,
    l'objet est venu en une seule requête ``PUT`` (1)."""
    etag = client.head_object(Bucket=bucket, Key=cle)["ETag"].strip('"')
    return int(etag.split("-")[1]) if "-" in etag else 1
