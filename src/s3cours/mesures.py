"""How the chapters « Parquet sur S3 » and « Gros volumes » measure, out of the lesson.

The readings that a chapter measures stay in its cells, as a learner would write them;
what is here only runs them, counts and draws: the cell magic ``%%mesurer`` (each
measured cell in a new process, through the counting relays of
:mod:`s3cours.counting_proxy`), the figure of its table, the place of the Parquet file
that :mod:`s3cours.bench` reads, and the partitions that a relay saw asked for.
Docstrings and messages are in French, as the chapters are: a learner reads them with
``help()`` or ``??``.
"""

from __future__ import annotations

import io
import os
from typing import TYPE_CHECKING

from . import bench

if TYPE_CHECKING:
    import pandas as pd
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.display import Image

    from .counting_proxy import CountingProxy

#: The columns of the table that ``%%mesurer`` fills, in order (the last one names the
#: latency of the slow relay, see :func:`installer_mesurer`).
MEMOIRE, REQUETES, DUREE = "mémoire au pic (Mo)", "requêtes", "durée (s)"


def installer_mesurer(
    variables: dict[str, str],
    petit: dict[str, str],
    *,
    serveur: str,
    relais: CountingProxy,
    relais_lent: CountingProxy,
    shell: InteractiveShell | None = None,
) -> dict[str, dict[str, float]]:
    """Définit la commande magique de cellule ``%%mesurer NOM`` dans ce noyau, et rend
    le dictionnaire où elle note ses mesures, une ligne ``NOM`` par cellule mesurée.

    ``%%mesurer NOM`` envoie le code de la cellule, tel quel, à un processus Python neuf
    (:func:`s3cours.bench.isolated`), où ``variables`` sont définies comme dans le
    notebook. Ce processus l'exécute trois fois : sur le petit fichier (``variables``
    mises à jour par ``petit``) par ``serveur``, pour charger bibliothèques et clients ;
    puis sur le gros fichier, par ``relais`` (qui compte les requêtes), et par
    ``relais_lent`` (qui attend avant chaque requête). Elle note la mémoire que la
    lecture du gros fichier ajoute au pic du processus (Mo), les requêtes comptées par
    ``relais``, et les deux durées (s) ; elle affiche ce que la cellule imprime."""
    if shell is None:
        from IPython import get_ipython

        shell = get_ipython()
    if shell is None:
        raise RuntimeError(
            "%%mesurer est une commande de Jupyter (IPython) : lancez "
            "ce code dans un notebook."
        )
    mesures: dict[str, dict[str, float]] = {}
    avec_latence = f"durée à {relais_lent.latency * 1000:.0f} ms (s)"

    def mesurer(nom: str, cellule: str) -> None:
        """``%%mesurer NOM`` : la cellule dans un processus neuf, ses mesures notées
        sous ``NOM`` (voir ``s3cours.mesures.installer_mesurer``)."""
        relais.reset()
        mesure = bench.isolated(
            cellule, variables, petit, [serveur, relais.url, relais_lent.url]
        )
        mesures[nom.strip()] = {
            MEMOIRE: mesure.peak / 1e6,
            REQUETES: relais.count().requests,
            DUREE: mesure.seconds[0],
            avec_latence: mesure.seconds[1],
        }
        print(mesure.printed, end="")

    shell.register_magic_function(mesurer, magic_kind="cell", magic_name="mesurer")
    return mesures


def figure_memoire(pics: pd.Series, n_communes: int) -> Image:
    """La mémoire ajoutée au pic par chaque lecture (``pics``, en Mo, une ligne par
    lecture), en barres horizontales dans l'ordre du tableau : en rouge les lectures
    entières, en bleu les lectures en flux. Une image PNG que le notebook affiche une
    fois (dessinée sans ``pyplot`` : aucune figure ne reste ouverte pour s'afficher
    deux fois)."""
    from IPython.display import Image
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8, 3.5), layout="tight")
    axe = figure.add_subplot()
    noms = pics.index[::-1]
    axe.barh(
        noms,
        pics.values[::-1],
        color=["tab:red" if "entière" in nom else "tab:blue" for nom in noms],
    )
    axe.set_xlabel("Mo ajoutés au pic par la lecture")
    communes = f"{n_communes:,}".replace(",", "\u202f")
    axe.set_title(f"Lire {communes} communes : tout d'un coup ou en flux")
    png = io.BytesIO()
    figure.savefig(png, format="png", dpi=96, metadata={"Software": None})
    return Image(data=png.getvalue(), format="png")


def source(adresse: str, region: str, bucket: str, cle_parquet: str) -> bench.Source:
    """Le fichier Parquet ``bucket/cle_parquet`` tel que le lisent les mesures de
    :mod:`s3cours.bench` (``bench.measure``, ``bench.measure_tuned``) : par ``adresse``
    (celle d'un relais), avec les identifiants de l'environnement, ceux du service. Les
    deux colonnes lues sont ``bench.TWO_COLUMNS``, celles des onglets du chapitre
    « Gros volumes »."""
    return bench.Source(
        endpoint_url=adresse,
        region=region,
        access_key=os.environ["AWS_ACCESS_KEY_ID"],
        secret_key=os.environ["AWS_SECRET_ACCESS_KEY"],
        session_token=os.environ.get("AWS_SESSION_TOKEN"),
        bucket=bucket,
        csv_key="",
        parquet_key=cle_parquet,
        dataset="",
        department="",
        columns=tuple(bench.TWO_COLUMNS),
    )


def partitions_lues(relais: CountingProxy, colonne: str = "DEP") -> list[str]:
    """La partition (la valeur de ``colonne=…``, au plus 3 caractères) de chaque requête
    que ``relais`` a transmise depuis sa dernière remise à zéro et qui en nomme une,
    triées : ce qu'un lecteur a ouvert d'un jeu partitionné."""
    marque = f"{colonne}%3D"  # « DEP= » dans une adresse
    return sorted(
        echange.target.split(marque)[1][:3].strip("/")
        for echange in relais.count().exchanges
        if marque in echange.target
    )
