#!/usr/bin/env bash
# Prépare un service Jupyter du SSP Cloud (Onyxia) pour un chapitre de « Python et S3 ».
#
#   init-jupyter.sh CHAPITRE        par exemple : init-jupyter.sh 01_se_connecter
#
# Le lanceur Onyxia l'exécute avant de démarrer JupyterLab (paramètres init.personalInit
# et init.personalInitArgs ; l'image fait
# `curl $PERSONAL_INIT_SCRIPT | bash -s -- $PERSONAL_INIT_ARGS`). Il clone le cours
# (clone superficiel) dans ~/work/python-et-s3, installe les versions des bibliothèques
# du cours que l'image n'a pas, et fait ouvrir le notebook du chapitre par JupyterLab.
# Un dossier ~/work/python-et-s3 déjà présent (service relancé) est gardé tel quel.
#
# Dépôt cloné : celui d'où vient ce script (lu dans $PERSONAL_INIT_SCRIPT), ou
# $S3COURS_REPO_URL (et $S3COURS_REPO_BRANCH) s'ils sont posés.
set -euo pipefail

fail() { echo "init-jupyter.sh : erreur : $*" >&2; exit 2; }

[ $# -eq 1 ] \
  || fail "un seul argument attendu, le nom du chapitre (ex. : 01_se_connecter) ;" \
    "reçu : $*"
CHAPTER=$1
[[ "$CHAPTER" =~ ^[0-9]{2}_[a-z0-9_]+$ ]] \
  || fail "nom de chapitre invalide : « $CHAPTER »" \
    "(attendu : NN_nom, ex. 01_se_connecter)"

RAW='^https://raw\.githubusercontent\.com/([^/]+)/([^/]+)/([^/]+)'
RAW+='/sspcloud/init-jupyter\.sh$'
if [ -z "${S3COURS_REPO_URL:-}" ]; then
  FORM="https://raw.githubusercontent.com/PROPRIÉTAIRE/DÉPÔT/BRANCHE/sspcloud"
  [[ "${PERSONAL_INIT_SCRIPT:-}" =~ $RAW ]] \
    || fail "dépôt du cours inconnu : ni S3COURS_REPO_URL, ni PERSONAL_INIT_SCRIPT" \
      "de la forme $FORM/init-jupyter.sh"
  S3COURS_REPO_URL="https://github.com/${BASH_REMATCH[1]}/${BASH_REMATCH[2]}.git"
  S3COURS_REPO_BRANCH=${S3COURS_REPO_BRANCH:-${BASH_REMATCH[3]}}
fi
BRANCH=${S3COURS_REPO_BRANCH:-main}
PIP=${S3COURS_PIP:-pip}

WORK_DIR="$HOME/work"
COURSE="python-et-s3"
mkdir -p "$WORK_DIR"

# Cloner à part, et ne rien poser dans ~/work tant que le chapitre n'est pas vérifié.
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
git clone --quiet --depth 1 --branch "$BRANCH" "$S3COURS_REPO_URL" "$TMP/$COURSE" \
  || fail "clonage de $S3COURS_REPO_URL (branche $BRANCH) impossible"
if [ ! -f "$TMP/$COURSE/notebooks/$CHAPTER.ipynb" ]; then
  AVAILABLE=$(cd "$TMP/$COURSE/notebooks" && ls -- *.ipynb |
    sed 's/\.ipynb$//' | tr '\n' ' ')
  fail "chapitre inconnu : « $CHAPTER ». Chapitres : $AVAILABLE"
fi

# Les bibliothèques du cours aux versions des notebooks publiés, et son outillage.
"$PIP" install --quiet "$TMP/$COURSE[chapitres]"

if [ -e "$WORK_DIR/$COURSE" ]; then
  echo "init-jupyter.sh : $WORK_DIR/$COURSE existe déjà : gardé tel quel" \
    "(vos modifications restent)."
else
  mv "$TMP/$COURSE" "$WORK_DIR/$COURSE"
fi

# JupyterLab (racine : ~/work) ouvre le notebook du chapitre au démarrage.
NOTEBOOK="$COURSE/notebooks/$CHAPTER.ipynb"
[ -f "$WORK_DIR/$NOTEBOOK" ] \
  || fail "$WORK_DIR/$NOTEBOOK absent du dossier existant :" \
    "renommez ce dossier et relancez le service"
CONFIG="$HOME/.jupyter/jupyter_server_config.py"
mkdir -p "$(dirname "$CONFIG")"
touch "$CONFIG"
grep -v '^c\.LabApp\.default_url' "$CONFIG" > "$CONFIG.tmp" || true
echo "c.LabApp.default_url = '/lab/tree/$NOTEBOOK'" >> "$CONFIG.tmp"
mv "$CONFIG.tmp" "$CONFIG"

# Pas de question, en anglais, sur les nouvelles de Jupyter au-dessus du notebook : la
# réponse « Never » (fetchNews de @jupyterlab/apputils-extension:notification), dans
# les réglages de l'utilisateur, où JupyterLab range sa réponse ; sauf s'il en a donné
# une.
JUPYTER_DIR=${JUPYTER_CONFIG_DIR:-$HOME/.jupyter}
USER_SETTINGS=${JUPYTERLAB_SETTINGS_DIR:-$JUPYTER_DIR/lab/user-settings}
NEWS="$USER_SETTINGS/@jupyterlab/apputils-extension/notification.jupyterlab-settings"
if [ ! -e "$NEWS" ]; then
  mkdir -p "$(dirname "$NEWS")"
  printf '{\n  "fetchNews": "false",\n  "checkForUpdates": false\n}\n' > "$NEWS"
fi
echo "init-jupyter.sh : $NOTEBOOK prêt, ouvert au démarrage de JupyterLab."
