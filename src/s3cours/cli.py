"""Outillage du cours « Python et S3 » (appelé par ./cours).

    playground start|stop|status|env   le bac à sable S3 local
    build [CHAPITRE ...]               content/*.Rmd -> notebooks/*.ipynb, exécutés
    check                              dérive source/notebook et structure,
                                       sans serveur
    format [CHAPITRE ...]              le code des chapitres mis en forme
                                       par ruff (88 col.)
    liens CHAPITRE                     les badges de lancement d'un chapitre (markdown)
    test [--rapide|--spark|--ceph] [-- ARGS PYTEST]
                                       toute la suite de tests,
                                       contre un bac à sable neuf
    classroom simulate [--learners N]  une classe : tous les chapitres
                                       par N apprenants à la fois
    classroom provision|verify|remove  le kit du formateur :
                                       créer, vérifier, supprimer une classe
    classroom suivi [DIR | --espace B] suivre la classe en direct (exercices)
    bench [--communes N] [--latence MS]
                                       octets, requêtes et durées de chaque bibliothèque
    bench chapitre [NN ...]            où passe le temps d'un chapitre
                                       (noyau, imports, S3)
    donnees publier [--vers s3://…]    publie les données du cours
                                       à leur place partagée
    compat [--serveurs minio,moto,…]   ce qui marche où : chaque opération S3 du
                                       cours sur chaque serveur (compatibilite/)

Les messages vont sur la sortie d'erreur ; ``playground start``, ``env`` et ``stop``
écrivent sur la sortie standard des lignes ``export``/``unset`` pour un terminal :
eval "$(./cours playground env)".
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import fcntl
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

# Only what every command needs is imported here: `./cours playground env` must stay
# quick. A command that needs pandas or jupytext (build, check, bench…) imports them
# itself.
from . import config, mc, playground, spark, trainer


#: Warnings that are errors when raised by a notebook's own code.
NOTEBOOK_WARNINGS = ("DeprecationWarning", "FutureWarning")


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def exports(env: dict[str, str]) -> str:
    lines = [f"export {name}={shlex.quote(value)}" for name, value in env.items()]
    return "\n".join(lines + [f"unset {name}" for name in playground.UNSET])


@contextlib.contextmanager
def private_playground(**options) -> Iterator[playground.Playground]:
    """A playground of its own (state folder, free port, temporary data), stopped."""
    with tempfile.TemporaryDirectory(prefix="s3cours-state-") as state:
        started = playground.start(state_dir=Path(state), log=say, **options)
        say(f"Bac à sable S3 : {started.describe()}")
        try:
            yield started
        finally:
            playground.stop(Path(state))


@contextlib.contextmanager
def second_server(
    started: playground.Playground, port: int = 0, server: str | None = None
) -> Iterator[playground.Playground]:
    """A second S3 server beside ``started``, of its kind, with its own state and no
    shared data, stopped at the end; meanwhile, the default learner's service home
    (:meth:`~playground.Playground.service_home`) holds two profiles, as Onyxia 11.5
    gives a service each S3 profile of its user: ``perso`` on ``started`` and
    ``projet`` on this one (:func:`playground.write_profiles`). The chapter
    « Recettes du quotidien » copies from one to the other. The service keeps its S3
    variables (those of ``started``), as on SSP Cloud. ``port`` taken, a free one.
    ``server`` names another kind (``minio`` beside a Ceph playground: the migration
    the chapter tells)."""
    if port:
        try:
            playground.check_port_free(config.LOOPBACK, port)
        except playground.PlaygroundError:
            port = 0
    with private_playground(
        server=server or started.server.lower(), port=port, shared_data=False
    ) as second:
        home = started.service_home()
        playground.write_profiles(
            home,
            {
                playground.PROFILE: started.environment(),
                playground.SECOND_PROFILE: second.environment(),
            },
        )
        try:
            yield second
        finally:
            shutil.rmtree(home / ".aws", ignore_errors=True)


def kernel_environment(started: playground.Playground) -> dict[str, str]:
    """The process environment for notebooks and tests: an Onyxia service of the default
    learner on the playground (its S3 variables with the ``mc`` alias ``s3``, its
    ``HOME`` holding the image's DuckDB secret; the tools' caches kept), the course's
    ``mc`` first on PATH, and none of the AWS settings that would send a client
    elsewhere."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(
            ("AWS_ENDPOINT_URL_", "AWS_PROFILE", "AWS_CONFIG_FILE", "MC_HOST_")
        )
        and k not in playground.UNSET
    }
    env.update(playground.home_pins())
    env.update(started.service())
    # Spark's jars from the course's cache, and Java's trust of the test CA (https).
    env.update(spark.environment(started.ca_file))
    env.update(java_logging())
    # Where aides.renouveler_identifiants finds the playground (chapter 7).
    if started.state_file:
        env[config.PLAYGROUND_VARIABLE] = str(Path(started.state_file).parent)
    # The course's own calls (code run in a notebook) must raise no deprecation warning.
    env["PYTHONWARNINGS"] = ",".join(f"error::{w}:__main__" for w in NOTEBOOK_WARNINGS)
    try:
        env["PATH"] = f"{mc.path_dir(say)}{os.pathsep}{env.get('PATH', '')}"
    except playground.PlaygroundError as exc:
        say(f"Les onglets mc échoueront : {exc}")
    return env


#: Spark's logging for the kernels of the build and the tests (its own defaults,
#: ``org/apache/spark/log4j2-defaults.properties``, at the WARN level that PySpark's
#: shell sets), less a warning that says nothing here: Hadoop's optional native library
#: is absent, its pure Java code is used (as on SSP Cloud's images).
LOG4J2 = """\
rootLogger.level = warn
rootLogger.appenderRef.stdout.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{yy/MM/dd HH:mm:ss} %p %c{1}: %m%n%ex
logger.jetty.name = org.sparkproject.jetty
logger.jetty.level = warn
logger.jetty2.name = org.sparkproject.jetty.util.component.AbstractLifeCycle
logger.jetty2.level = error
logger.parquet.name = org.apache.parquet.CorruptStatistics
logger.parquet.level = error
logger.native.name = org.apache.hadoop.util.NativeCodeLoader
logger.native.level = error
"""


#: Ivy's settings (Java properties, read as Ivy variables) that leave out of its report
#: the lists of every module found and in use, about forty lines at each Spark start:
#: what was resolved stays in the summary table.
IVY_QUIET = (
    "-Divy.log.modules.in.use=false",
    "-Divy.log.module.when.found=false",
    "-Divy.log.resolved.revision=false",
)


def java_logging() -> dict[str, str]:
    """The kernels' Spark settings that keep the console for real warnings: Spark's
    configuration folder holding :data:`LOG4J2` (no « Using Spark's default log4j
    profile », « Setting default log level »), Ivy's :data:`IVY_QUIET` for the JVM that
    spark-submit starts (``SPARK_SUBMIT_OPTS``, added to any already there), and the
    loopback as Spark's address (on a machine whose name resolves to it, Spark warns at
    every start and takes another interface; a local session needs none)."""
    folder = spark.folder() / "conf"
    properties = folder / "log4j2.properties"
    if not properties.exists() or properties.read_text() != LOG4J2:
        folder.mkdir(parents=True, exist_ok=True)
        properties.write_text(LOG4J2)
    options = [os.environ.get("SPARK_SUBMIT_OPTS", ""), *IVY_QUIET]
    return {
        "SPARK_CONF_DIR": str(folder),
        "SPARK_LOCAL_IP": config.LOOPBACK,
        "SPARK_SUBMIT_OPTS": " ".join(filter(None, options)),
    }


def cmd_playground(args: argparse.Namespace) -> int:
    state = Path(args.state_dir) if args.state_dir else None
    if args.action == "start":
        started = playground.start(
            args.port,
            args.server,
            host=args.host,
            allow_non_loopback=args.allow_non_loopback,
            data_dir=Path(args.data_dir) if args.data_dir else None,
            state_dir=state,
            build=not args.no_build,
            tls=args.tls,
            shared_data=not args.sans_donnees,
            onyxia=args.onyxia,
            log=say,
        )
        for note in started.notes:
            say(note)
        say(f"Bac à sable S3 démarré : {started.describe()}")
        option = f" --state-dir {shlex.quote(args.state_dir)}" if args.state_dir else ""
        say(
            "Identifiants temporaires de l'apprenant, comme sur le SSP Cloud (valables "
            + ("12 heures, plafond de Ceph" if started.server == "Ceph" else "7 jours")
            + ", sur ce serveur seulement). Pour un terminal :"
        )
        say(f'  eval "$(./cours playground env{option})"')
        env = started.environment(args.apprenant)
        if args.secret_duckdb:
            say_duckdb_secret(env)
        print(exports(env))
    elif args.action == "stop":
        stopped = playground.stop(state)
        say(
            f"Arrêté : {stopped.describe()}"
            if stopped
            else "Aucun bac à sable en cours."
        )
        say('Pour vider les variables du terminal : eval "$(./cours playground stop)"')
        print("unset " + " ".join(playground.VARIABLES))
    elif args.action == "status":
        running = playground.status(state)
        say(running.describe() if running else "Aucun bac à sable en cours.")
        return 0 if running else 1
    elif args.action == "env":
        running = playground.status(state)
        if (
            running is not None
            and args.apprenant
            and args.apprenant not in running.learner_keys
        ):
            playground.add_learner(running, args.apprenant)  # the tooling's admin work
            say(f"Apprenant créé : {args.apprenant} (utilisateur, politique, bucket).")
        if args.renouveler:
            if running is None:
                say("Aucun bac à sable en cours : rien à renouveler.")
                return 1
            env, revoked = running.renew(
                os.environ.get("AWS_SESSION_TOKEN"), args.apprenant
            )
            token = os.environ.get("AWS_SESSION_TOKEN")
            say(
                "Identifiants renouvelés ; les anciens (ceux de AWS_SESSION_TOKEN) "
                "sont révoqués : tout terminal, noyau ou client qui s'en sert encore "
                "reçoit InvalidAccessKeyId."
                if revoked
                else "Identifiants renouvelés ; rien de révoqué ("
                + (
                    "Ceph RGW ne révoque pas d'identifiants temporaires : les anciens "
                    "restent valables jusqu'à leur expiration, 12 h au plus)"
                    if running.server == "Ceph"
                    else "moto ne sait pas révoquer)"
                    if running.server != "MinIO"
                    else "AWS_SESSION_TOKEN absent)"
                    if not token
                    else "AWS_SESSION_TOKEN ne vient pas de ce bac à sable)"
                )
            )
            if revoked and sys.stdout.isatty():
                say(
                    'Sans eval "$(./cours playground env --renouveler)", ce terminal '
                    "garde les anciennes variables, désormais révoquées."
                )
        elif args.profils:
            if running is None:
                say("Aucun bac à sable en cours : pas de profil à écrire.")
                return 1
            return say_profiles(running, args.apprenant)
        else:
            env = (
                running.environment(args.apprenant)
                if running
                else playground.load_environment(state)
            )
        if args.secret_duckdb:
            say_duckdb_secret(env)
        print(exports(env))
    return 0


def say_profiles(running: playground.Playground, learner: str | None) -> int:
    """``env --profils``: the learner's service as Onyxia gives it profiles and no S3
    variable (:func:`playground.profile_service`); for a terminal, the files by their
    variables (HOME stays) and the S3 variables unset."""
    env = playground.profile_service(running, learner)
    folder = Path(env.pop("HOME")) / ".aws"
    say(
        f"Profil {env['AWS_PROFILE']} écrit dans {folder} (config et credentials, "
        "comme Onyxia les écrit) ; aucune variable S3."
    )
    env["AWS_CONFIG_FILE"] = str(folder / "config")
    env["AWS_SHARED_CREDENTIALS_FILE"] = str(folder / "credentials")
    unset = [name for name in playground.VARIABLES if name not in env]
    print(exports(env))
    print("unset " + " ".join(unset))
    return 0


def say_duckdb_secret(env: dict[str, str]) -> None:
    """Write the image's DuckDB secret in HOME, as Onyxia does for a new service."""
    folder = playground.write_duckdb_secret(env, Path.home())
    say(
        f"Secret DuckDB {playground.DUCKDB_SECRET} écrit dans {folder}, comme au "
        "démarrage d'un service du SSP Cloud (identifiants figés à ce moment)."
    )


def _chapters(names: list[str]) -> list[Path]:
    from . import notebooks

    sources = notebooks.sources()
    if not names:
        return sources
    chosen = [s for s in sources if s.stem in names or s.name in names]
    missing = set(names) - {s.stem for s in chosen} - {s.name for s in chosen}
    if missing:
        raise playground.PlaygroundError(
            f"Chapitre(s) inconnu(s) : {sorted(missing)}. "
            f"Disponibles : {[s.stem for s in sources]}"
        )
    return chosen


@contextlib.contextmanager
def build_lock() -> Iterator[None]:
    """One build at a time per machine: the builds share the port their outputs show."""
    path = config.cache_dir() / "build.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            say("Une autre construction est en cours sur cette machine : attente…")
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def cmd_build(args: argparse.Namespace) -> int:
    from . import notebooks, noyau

    chapters = _chapters(args.chapters)
    noyau.install(prefix=sys.prefix)
    with build_lock():
        # The port shows in the outputs: a fixed one keeps rebuilds free of diffs.
        port = config.DEFAULT_PORT
        try:
            playground.check_port_free(config.LOOPBACK, port)
        except playground.PlaygroundError:
            say(
                f"Port {port} occupé (un bac à sable déjà lancé ?) : port libre pris "
                "au hasard (un notebook où seul le port changerait reste tel quel)."
            )
            port = 0
        with (
            private_playground(
                server=args.server, port=port, onyxia=args.onyxia
            ) as started,
            second_server(started, port and port + 1),
        ):
            if any(source.stem == config.SPARK_CHAPTER for source in chapters):
                spark.prepare(say)
            env = kernel_environment(started)
            kept = []
            for source in chapters:
                t0 = time.monotonic()
                target, written = notebooks.build(
                    source,
                    env,
                    rewrite=args.reecrire,
                    # On the course's port, a port number is no volatile value.
                    deterministic=("port",) if port else (),
                )
                say(
                    f"{target.relative_to(config.ROOT)} exécuté "
                    f"en {time.monotonic() - t0:.1f} s"
                    + ("" if written else " : mêmes sorties, fichier gardé")
                )
                if not written:
                    kept.append(source.stem)
            if kept:
                say(
                    f"{len(kept)} notebook(s) gardé(s) tel(s) quel(s) : la nouvelle "
                    "exécution n'en change que des valeurs volatiles (dates, durées, "
                    "mesures, dossiers temporaires ; tests/sanitize.cfg et cellules "
                    "nbval-ignore-output). `./cours build --reecrire` les réécrit."
                )
    for orphan in notebooks.orphans():
        say(
            f"Attention : {orphan.relative_to(config.ROOT)} "
            "n'a plus de source dans content/."
        )
    from . import aide_memoire

    page = aide_memoire.write()
    say(f"{page.relative_to(config.ROOT)} : tiré des notebooks exécutés.")
    return build_site()


def build_site() -> int:
    """The site rendered by Quarto into the course's cache (the one the site's tests
    open: after a build, they do not render it again)."""
    from . import site

    missing = site.quarto_missing()
    if missing:
        say(f"Site non rendu : {missing}.")
        return 0
    published = site.cached_site()
    if published is not None:
        say(f"Site déjà rendu pour ces fichiers : {published}")
        return 0
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="s3cours-site-") as scratch:
        try:
            folder = site.rendered_site(Path(scratch))
        except site.SiteError as exc:
            say(f"Erreur : {exc}")
            return 1
    say(f"Site rendu par Quarto en {time.monotonic() - t0:.0f} s : {folder}")
    return 0


def cmd_check(_: argparse.Namespace) -> int:
    from . import formatage, notebooks, structure

    failures = 0
    for source in notebooks.sources():
        for problem in structure.chapter_problems(source) + formatage.problems(source):
            failures += 1
            say(f"{source.relative_to(config.ROOT)} : {problem}")
        diff = notebooks.drift(source)
        if diff:
            failures += 1
            say(
                f"{source.relative_to(config.ROOT)} et son notebook divergent "
                f"(relancez `./cours build`) :\n{diff}"
            )
    for orphan in notebooks.orphans():
        failures += 1
        say(f"{orphan.relative_to(config.ROOT)} n'a pas de source dans content/.")
    from . import aide_memoire

    stale = aide_memoire.drift()
    if stale:
        failures += 1
        say(stale)
    for problem in formatage.tooling_problems():
        failures += 1
        say(problem)
    say(
        "Vérifications : rien à signaler."
        if not failures
        else f"Vérifications : {failures} problème(s)."
    )
    return 1 if failures else 0


def cmd_format(args: argparse.Namespace) -> int:
    from . import formatage

    sources = _chapters(args.chapters)
    changed = formatage.format_sources(sources)
    for source in changed:
        say(f"{source.relative_to(config.ROOT)} : code mis en forme (ruff).")
    long = 0
    for source in sources:
        for line in formatage.long_lines(source.read_text(encoding="utf-8")):
            long += 1
            say(f"{source.relative_to(config.ROOT)} : {line} (à couper à la main)")
    if changed:
        say("Relancez `./cours build` pour les notebooks.")
    return 1 if long else 0


def cmd_links(args: argparse.Namespace) -> int:
    from . import launch, notebooks

    for source in _chapters(args.chapters):
        print(
            launch.badges_markdown(
                notebooks.notebook_path(source).relative_to(config.ROOT).as_posix()
            )
        )
    return 0


#: nbval in strict mode, in the test process's environment, with the sanitizer file
#: named next.
NBVAL_OPTIONS = ("--nbval", "--nbval-current-env", "--nbval-sanitize-with")
#: pytest's options in the test command: the five slowest tests are listed at the end,
#: before pytest's summary line, which stays the last line.
PYTEST_OPTIONS = ("-p", "no:cacheprovider", "--durations=5")
#: Three pytest-xdist workers: the published notebooks and their second pass take one,
#: the others share the rest; the work units, their order and the workers' priority are
#: in tests/conftest.py.
PARALLEL_OPTIONS = ("-n", "3", "--dist", "loadscope", "--no-loadscope-reorder")
#: Names the state folder of the playground that `./cours test` started for its run.
TEST_STATE_VARIABLE = "S3COURS_TEST_STATE"
#: First on the test processes' PYTHONPATH: a stand-in that keeps jsonschema from
#: importing rfc3987_syntax (1.7 s of CPU in each process that imports nbformat; see its
#: docstring).
TEST_PYTHONPATH = config.ROOT / "tests" / "sans_iri"


def run_pytest(
    started: playground.Playground, paths: list[str], options: list[str]
) -> int:
    """pytest on ``paths`` (tests and published notebooks, these with nbval against
    tests/sanitize.cfg), its processes in the playground's learner's environment."""
    command = [
        sys.executable,
        "-m",
        "pytest",
        *paths,
        *NBVAL_OPTIONS,
        "tests/sanitize.cfg",
        *PYTEST_OPTIONS,
        *options,
    ]
    env = kernel_environment(started)
    # The run's playground, for the tests that need more than its variables (the
    # second pass checks the published notebooks' learner's objects there).
    env[TEST_STATE_VARIABLE] = str(Path(started.state_file).parent)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(TEST_PYTHONPATH), *filter(None, [env.get("PYTHONPATH")])]
    )
    return subprocess.call(command, cwd=config.ROOT, env=env)


def cmd_test(args: argparse.Namespace) -> int:
    from . import noyau

    # The kernel and JupyterLab settings that tests/test_jupyterlab.py checks.
    noyau.install(prefix=sys.prefix)
    if args.spark:
        return test_spark(args)
    if args.ceph:
        return test_ceph(args)
    with (
        private_playground(server=args.server, onyxia=args.onyxia) as started,
        second_server(started),
    ):
        # Said before pytest runs, so that pytest's summary stays the last line.
        say(f"Serveur S3 utilisé pour les tests : {started.server} {started.version}")
        notebooks = map(str, sorted(config.NOTEBOOKS_DIR.glob("*.ipynb")))
        return run_pytest(
            started,
            ["tests", *notebooks],
            [
                *PARALLEL_OPTIONS,
                # The second pass runs every time; --rapide leaves it out (a quicker
                # loop). The Spark chapter has its own command (test_spark), and
                # so has the Ceph playground (test_ceph).
                "-m",
                "not spark and not ceph and not second_pass"
                if args.rapide
                else "not spark and not ceph",
                *args.pytest_args,
            ],
        )


def test_spark(args: argparse.Namespace) -> int:
    """``./cours test --spark``: the chapter « Spark et S3 », too long for the test
    command's budget (a JVM per kernel, about 85 s per pass). nbval and its second pass
    on a playground with the course data, over http as in the build; then its learner
    runs it over https, the shared data absent (a copy in their space), as on SSP Cloud
    before a trainer publishes them: no untagged error."""
    from . import classroom

    spark.prepare(say)
    notebook = config.NOTEBOOKS_DIR / f"{config.SPARK_CHAPTER}.ipynb"
    with private_playground(server=args.server, onyxia=args.onyxia) as started:
        say(f"Serveur S3 utilisé pour Spark : {started.server} {started.version}")
        code = run_pytest(
            started,
            [str(notebook.relative_to(config.ROOT)), "tests/test_second_pass.py"],
            ["-m", "spark", *args.pytest_args],
        )
    if code:
        return code
    with private_playground(
        server=args.server, tls=True, shared_data=False, onyxia=args.onyxia
    ) as started:
        problems = classroom.course_problems(
            started, kernel_environment(started), config.DEFAULT_LEARNER, [notebook]
        )
    for problem in problems:
        say(f"- {problem}")
    say(
        f"{notebook.name} en https, sans les données partagées : "
        + (
            f"{len(problems)} erreur(s) non prévue(s)."
            if problems
            else "aucune erreur."
        )
    )
    return 1 if problems else 0


#: Seconds a cell may run in ``./cours test --ceph`` (the longest on MinIO: about 20 s).
CEPH_CELL_SECONDS = 120


def test_ceph(args: argparse.Namespace) -> int:
    """``./cours test --ceph [--chapitres NN …]``: the published chapters but « Spark
    et S3 » (a JVM per kernel: see test_spark) on a Ceph RGW playground, tomorrow's SSP
    Cloud. Over http with the course data, each chapter twice in a row (a first pass,
    then :func:`classroom.second_pass`: no untagged error, the same outputs as the first
    pass, the same objects); the twin's own tests (tests/test_ceph.py); then the default
    learner runs them over https with STS, the shared data absent: no untagged error.
    Outputs are not compared with the published ones, made on MinIO: error messages,
    byte counts and checksums differ by server, and the chapters say so where it
    matters; how many cells differ is said, as information. 0 if nothing failed."""
    from . import classroom

    t0 = time.monotonic()
    chapters = classroom.class_chapters()
    if args.chapitres:
        wanted = tuple(args.chapitres)
        chapters = [c for c in chapters if c.stem.startswith(wanted)]
        if not chapters:
            raise playground.PlaygroundError(
                f"Aucun chapitre ne commence par {' ou '.join(wanted)} (hors Spark) : "
                "donnez des numéros comme 03 ou 09."
            )
    # A refused upload can leave pyarrow waiting for ever (measured: write_dataset in
    # « Parquet sur S3 »): a cell gets CEPH_CELL_SECONDS.
    os.environ[classroom.CELL_TIMEOUT_VARIABLE] = str(CEPH_CELL_SECONDS)
    problems: list[str] = []
    learner = config.DEFAULT_LEARNER
    with (
        private_playground(server="ceph", port=0, onyxia=args.onyxia) as started,
        # The chapter « Recettes du quotidien » copies from MinIO (today's server) to
        # this one (tomorrow's).
        second_server(started, server="minio"),
    ):
        say(f"Serveur S3 utilisé : {started.server} {started.version}, http")
        env = kernel_environment(started)
        differ = 0
        for notebook in chapters:
            first: list[str] = []
            with tempfile.TemporaryDirectory(prefix="s3cours-ceph-") as scratch:
                found = classroom.second_pass(
                    started, env, learner, notebook, Path(scratch), False, first
                )
            classroom.empty_course_folder(started, env, learner)
            published = classroom.published_outputs([notebook])[notebook.name]
            cells = sum(a != b for a, b in zip(first, published))
            differ += cells
            say(
                f"{notebook.name} : {len(found)} problème(s), {cells} cellule(s) "
                "à la sortie autre que sur MinIO"
            )
            problems += found
        code = run_pytest(
            started, ["tests/test_ceph.py"], ["-m", "ceph", *args.pytest_args]
        )
        if code:
            problems.append(f"tests/test_ceph.py : échec (code {code})")
    with private_playground(
        server="ceph", port=0, tls=True, shared_data=False, onyxia=args.onyxia
    ) as started:
        say(f"Serveur S3 utilisé : {started.server} {started.version}, https")
        problems += classroom.course_problems(
            started, kernel_environment(started), learner, chapters
        )
    for problem in problems:
        say(f"- {problem}")
    say(
        f"Ceph, {len(chapters)} chapitre(s) : "
        + (f"{len(problems)} problème(s)." if problems else "aucun problème.")
        + f" Sorties autres que sur MinIO (information) : {differ} cellule(s)."
    )
    say(f"Durée de ./cours test --ceph : {time.monotonic() - t0:.0f} s")
    return 1 if problems else 0


# ---------------------------------------------------------------------- classroom group
# ``./cours classroom ACTION``: each action is a ``cmd_classroom_*`` function taking the
# parsed arguments, registered with its options in :func:`add_classroom_commands`.


def cmd_classroom_simulate(args: argparse.Namespace) -> int:
    """A simulated class: N learners follow every chapter on one fresh server."""
    from . import classroom

    if args.learners < 2 or args.workers < 1:
        raise playground.PlaygroundError(
            "--learners : au moins 2 apprenants (la classe compare leurs sorties) ; "
            "--workers : au moins 1."
        )
    # Over https and, unless asked, without the shared course data, as on SSP Cloud
    # until a trainer has published them: every chapter's https and data-absent paths,
    # every week.
    with private_playground(
        server=args.server, tls=True, shared_data=args.avec_donnees, onyxia=args.onyxia
    ) as started:
        say(
            f"Classe simulée : {args.learners} apprenants, {args.workers} à la "
            "fois, chacun suit tous les chapitres ; le premier les suit deux "
            "fois de suite. Serveur en https, "
            + (
                "avec les données partagées du cours"
                if args.avec_donnees
                else "sans les données partagées du cours (copie de secours de chaque "
                "apprenant)"
            )
            + f", variables d'Onyxia {args.onyxia}."
        )
        report = classroom.run(
            started, kernel_environment(started), args.learners, args.workers
        )
    for problem in report.problems:
        say(f"- {problem}")
    print(report.summary())
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:  # in a GitHub Actions job: the figures on the run's summary page
        with open(summary, "a", encoding="utf-8") as handle:
            handle.write("## Classe simulée\n\n" + report.markdown())
    return 1 if report.problems else 0


def add_onyxia_option(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--onyxia",
        type=int,
        choices=config.ONYXIA_VERSIONS,
        default=config.DEFAULT_ONYXIA,
        help="version d'Onyxia dont les apprenants reçoivent les variables "
        "(défaut : 11 ; 10 : AWS_WORKING_DIRECTORY_PATH nomme l'espace)",
    )


def add_classroom_commands(sub: argparse._SubParsersAction) -> None:
    room = sub.add_parser(
        "classroom", help="une classe : simulate, provision, verify, suivi, remove"
    )
    actions = room.add_subparsers(
        dest="classroom_action", required=True, metavar="ACTION"
    )
    simulate = actions.add_parser(
        "simulate",
        help="N apprenants suivent tous les chapitres à la fois sur un serveur neuf",
    )
    simulate.add_argument(
        "--learners", type=int, default=20, help="apprenants (défaut : 20)"
    )
    simulate.add_argument(
        "--workers", type=int, default=5, help="apprenants en même temps (défaut : 5)"
    )
    simulate.add_argument("--server", choices=playground.SERVERS, default="auto")
    add_onyxia_option(simulate)
    simulate.add_argument(
        "--avec-donnees",
        action="store_true",
        help="avec les données partagées du cours (défaut : sans, comme "
        "le SSP Cloud avant qu'un formateur les publie)",
    )
    simulate.set_defaults(func=cmd_classroom_simulate)
    trainer.add_trainer_commands(
        actions
    )  # provision, verify, remove: the trainer's kit
    from . import suivi

    suivi.add_suivi_command(actions)  # suivi: the trainer follows the class live


def cmd_bench(args: argparse.Namespace) -> int:
    from . import bench
    from .counting_proxy import CountingProxy

    if getattr(args, "bench_command", None) == "chapitre":
        return cmd_bench_chapter(args)
    if args.communes < 100:
        raise playground.PlaygroundError("--communes : au moins 100 communes.")
    if args.latence < 0:
        raise playground.PlaygroundError(
            "--latence : un nombre de millisecondes, 0 ou plus."
        )
    t0 = time.monotonic()
    with private_playground(server=args.server) as started:
        say(
            f"Génération et dépôt de {args.communes} communes (CSV, "
            "Parquet, Parquet partitionné)…"
        )
        source = bench.upload(
            started.endpoint_url, args.communes, learner=started.environment()
        )
        with CountingProxy(started.endpoint_url) as proxy:
            relayed = dataclasses.replace(source, endpoint_url=proxy.url)
            results = bench.measure(proxy, relayed)
        latency = args.latence / 1000
        if latency:
            with CountingProxy(started.endpoint_url, latency=latency) as slow:
                relayed = dataclasses.replace(source, endpoint_url=slow.url)
                slow_results = bench.measure(slow, relayed)
                tuned = bench.measure_tuned(slow, relayed)
        client = playground.s3_client(started.endpoint_url)
        sizes = {
            case: client.head_object(Bucket=source.bucket, Key=key)["ContentLength"]
            for case, key in (("csv", source.csv_key), ("parquet", source.parquet_key))
        }
        print(
            f"Banc d'essai : {args.communes} communes générées, "
            f"serveur {started.server} {started.version}"
        )
        print(bench.report(results, sizes, bench.physical_minimum(source)))
        if latency:
            print()
            print(bench.latency_report(results, slow_results, tuned, latency))
    say(f"Durée totale : {time.monotonic() - t0:.0f} s")
    return 0


def cmd_data(args: argparse.Namespace) -> int:
    from . import course_data

    try:
        if args.action == "publier":
            destination = args.vers or "s3://{}/{}".format(
                *course_data.shared_location()
            )
            say(
                f"Publication des données du cours vers {destination} (identifiants de "
                "l'environnement)…"
            )
            course_data.publish(destination, log=print)
    except course_data.CourseDataError as exc:
        raise playground.PlaygroundError(str(exc)) from None
    # Any other error is an S3 error: said in French, with what to do.
    except Exception as exc:  # noqa: BLE001
        from .diagnostic import diagnose

        found = diagnose(exc)
        if found is None:
            raise
        raise playground.PlaygroundError(f"{exc}\n{found}") from None
    return 0


def cmd_bench_chapter(args: argparse.Namespace) -> int:
    """Where a chapter run's time goes (kernel start, imports, S3 calls, the rest)."""
    from . import chapter_bench, classroom, notebooks

    # "02" stands for the chapter whose name starts with "02_".
    names = [
        next((s.stem for s in notebooks.sources() if s.stem.startswith(f"{n}_")), n)
        for n in args.chapters
    ]
    chapters = [notebooks.notebook_path(s) for s in _chapters(names)]
    with private_playground(server=args.server) as started:
        learner = classroom.learner_names(1)[0]
        env = classroom.learner_environment(
            started, kernel_environment(started), learner
        )
        print(
            f"Serveur {started.server} {started.version}, apprenant {learner} ; un "
            "noyau neuf par chapitre, sur un serveur neuf (premier passage).",
            flush=True,
        )
        for notebook in chapters:
            timing = chapter_bench.measure(notebook, env, started.endpoint, started.pid)
            print(chapter_bench.report(timing), flush=True)
    return 0


def cmd_compat(args: argparse.Namespace) -> int:
    """Each S3 operation of the course against each server (s3cours.compat)."""
    from . import compat

    folder = Path(args.vers or compat.RESULTS_DIR)
    if args.tableau:
        data = folder / compat.RESULTS.name
        if not data.exists():
            say(f"Erreur : {data} absent. Lancez d'abord ./cours compat.")
            return 2
        table = folder / compat.TABLE.name
        table.write_text(compat.markdown(json.loads(data.read_text())))
        say(f"Tableau réécrit à partir de {data} : {table}")
        return 0
    servers = args.serveurs.split(",") if args.serveurs else list(compat.SERVERS)
    unknown = [s for s in servers if s not in compat.SERVERS]
    if unknown:
        say(
            f"Erreur : serveur inconnu : {', '.join(unknown)} "
            f"(choix : {', '.join(compat.SERVERS)})."
        )
        return 2
    started = time.monotonic()
    results = compat.run(servers, say, wait_expiry=not args.sans_attente)
    data, table = compat.write(results, folder)
    say(f"Résultats : {data} et {table} ({time.monotonic() - started:.0f} s en tout).")
    return 0


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="s3cours",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = top.add_subparsers(dest="command", required=True)

    pg = sub.add_parser("playground", help="le bac à sable S3 local")
    pg.add_argument("action", choices=("start", "stop", "status", "env"))
    pg.add_argument(
        "--port",
        type=int,
        default=config.DEFAULT_PORT,
        help=f"port d'écoute (défaut : {config.DEFAULT_PORT} ; 0 : un port libre)",
    )
    pg.add_argument("--server", "--serveur", choices=playground.SERVERS, default="auto")
    pg.add_argument("--host", default=config.LOOPBACK)
    pg.add_argument(
        "--allow-non-loopback",
        action="store_true",
        help="accepter une adresse autre que 127.0.0.1 (déconseillé)",
    )
    pg.add_argument(
        "--data-dir", help="dossier de données à conserver (MinIO seulement)"
    )
    pg.add_argument(
        "--state-dir", help=f"dossier d'état (défaut : {config.state_dir()})"
    )
    pg.add_argument(
        "--no-build", action="store_true", help="ne pas construire MinIO avec Go"
    )
    pg.add_argument(
        "--tls",
        action="store_true",
        help=(
            "https avec une autorité de certification de test "
            "(AWS_CA_BUNDLE, SSL_CERT_FILE)"
        ),
    )
    pg.add_argument(
        "--sans-donnees",
        action="store_true",
        help=(
            "sans les données partagées du cours (comme un serveur "
            "où personne ne les a publiées)"
        ),
    )
    add_onyxia_option(pg)
    pg.add_argument(
        "--secret-duckdb",
        action="store_true",
        help="écrire aussi dans ~/.duckdb le secret persistant que l'image du "
        "SSP Cloud y écrit au démarrage d'un service (start, env), aux identifiants "
        "de ce moment ; les extensions signées httpfs et aws, elles, sont mises dans "
        "~/.duckdb/extensions par tout « playground start » sans --state-dir, comme "
        "dans l'image (INSTALL httpfs marche alors hors ligne)",
    )
    pg.add_argument(
        "--apprenant",
        help=f"apprenant (défaut : ${config.LEARNER_VARIABLE} ou "
        f"{config.DEFAULT_LEARNER}) ; créé s'il n'existe pas",
    )
    pg.add_argument(
        "--renouveler",
        action="store_true",
        help="env : des identifiants neufs, et ceux de l'environnement actuel "
        "(AWS_SESSION_TOKEN) révoqués, comme expirés",
    )
    pg.add_argument(
        "--profils",
        action="store_true",
        help="env : un service sans variable S3, avec un profil nommé (AWS_PROFILE, "
        "~/.aws/config et ~/.aws/credentials du service, comme Onyxia les écrit)",
    )
    pg.set_defaults(func=cmd_playground)

    build = sub.add_parser("build", help="synchroniser et exécuter les notebooks")
    build.add_argument("chapters", nargs="*", help="noms de chapitres (défaut : tous)")
    build.add_argument("--server", choices=playground.SERVERS, default="auto")
    build.add_argument(
        "--reecrire",
        action="store_true",
        help="écrire chaque notebook exécuté, même quand seules des valeurs volatiles "
        "(dates, durées, mesures) y changent (défaut : il est alors gardé tel quel)",
    )
    add_onyxia_option(build)
    build.set_defaults(func=cmd_build)

    check = sub.add_parser(
        "check", help="dérive source/notebook et structure des onglets"
    )
    check.set_defaults(func=cmd_check)

    fmt = sub.add_parser("format", help="le code des chapitres mis en forme par ruff")
    fmt.add_argument("chapters", nargs="*", help="noms de chapitres (défaut : tous)")
    fmt.set_defaults(func=cmd_format)

    links = sub.add_parser(
        "liens", help="badges de lancement (SSP Cloud, Binder, Colab, GitHub)"
    )
    links.add_argument("chapters", nargs="*", help="noms de chapitres (défaut : tous)")
    links.set_defaults(func=cmd_links)

    test = sub.add_parser("test", help="toute la suite de tests")
    test.add_argument("--server", choices=playground.SERVERS, default="auto")
    add_onyxia_option(test)
    test.add_argument(
        "--rapide",
        action="store_true",
        help="sans le second passage des notebooks (tests marqués second_pass)",
    )
    test.add_argument(
        "--spark",
        action="store_true",
        help="le chapitre « Spark et S3 » seul (nbval, second passage, puis en https "
        "sans les données partagées) : hors de la suite, trop long pour elle",
    )
    test.add_argument(
        "--ceph",
        action="store_true",
        help="les chapitres (sauf Spark) sur un bac à sable Ceph RGW, le SSP Cloud "
        "de demain (deux passages en http, puis en https avec STS)",
    )
    test.add_argument(
        "--chapitres",
        nargs="+",
        metavar="NN",
        default=[],
        help="avec --ceph : ces chapitres seulement (ex. : --chapitres 03 09)",
    )
    test.add_argument(
        "pytest_args",
        nargs="*",
        help="arguments passés à pytest, après -- (ex. : ./cours test -- -k stack)",
    )
    test.set_defaults(func=cmd_test)
    add_classroom_commands(sub)
    compat_parser = sub.add_parser(
        "compat",
        help="ce qui marche où : chaque opération S3 du cours sur chaque serveur",
    )
    compat_parser.add_argument(
        "--serveurs", help="liste séparée par des virgules (défaut : tous)"
    )
    compat_parser.add_argument(
        "--sans-attente",
        action="store_true",
        help="ne pas attendre l'expiration d'un jeton de 15 min (sonde non mesurée)",
    )
    compat_parser.add_argument(
        "--vers", help="dossier des résultats (défaut : compatibilite/ du dépôt)"
    )
    compat_parser.add_argument(
        "--tableau",
        action="store_true",
        help="réécrire seulement le tableau de la page à partir de resultats.json "
        "(sans rien exécuter)",
    )
    compat_parser.set_defaults(func=cmd_compat)
    bench_parser = sub.add_parser(
        "bench", help="octets et requêtes de chaque bibliothèque"
    )
    bench_parser.add_argument(
        "--communes",
        type=int,
        default=config.BENCH_COMMUNES,
        help=f"taille des données générées (défaut : {config.BENCH_COMMUNES})",
    )
    bench_parser.add_argument("--server", choices=playground.SERVERS, default="auto")
    bench_parser.add_argument(
        "--latence",
        type=float,
        default=config.BENCH_LATENCY * 1000,
        help="latence ajoutée à chaque requête pour la variante « serveur "
        f"distant », en ms (défaut : {config.BENCH_LATENCY * 1000:.0f} ; 0 : sans)",
    )
    bench_parser.set_defaults(func=cmd_bench)
    data_parser = sub.add_parser(
        "donnees",
        help="les données du cours (publier : les déposer à leur place partagée)",
        description=(
            "Dépose les données du cours (générées, mêmes octets que les chapitres "
            "vérifient par SHA-256) à leur place partagée, ou à l'adresse --vers. "
            "Identifiants et serveur lus dans l'environnement seulement "
            "(AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, "
            "AWS_ENDPOINT_URL ou AWS_S3_ENDPOINT). Ne renvoie rien de déjà à jour, "
            "ne supprime rien."
        ),
    )
    data_parser.add_argument("action", choices=("publier",))
    data_parser.add_argument(
        "--vers",
        metavar="s3://BUCKET/PRÉFIXE/",
        help="destination (défaut : le réglage du cours, s3://{}/{})".format(
            config.DATA_BUCKET, config.DATA_PREFIX
        ),
    )
    data_parser.set_defaults(func=cmd_data)
    bench_sub = bench_parser.add_subparsers(dest="bench_command", metavar="chapitre")
    bench_chapter = bench_sub.add_parser(
        "chapitre",
        help="durée et CPU d'un chapitre : démarrage du noyau, imports, appels S3",
    )
    bench_chapter.add_argument(
        "chapters", nargs="*", help="chapitres : 02 ou 02_lire… (défaut : tous)"
    )
    bench_chapter.add_argument("--server", choices=playground.SERVERS, default="auto")
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.func(args))
    except playground.PlaygroundError as exc:
        say(f"Erreur : {exc}")
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
