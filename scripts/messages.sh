#!/usr/bin/env bash
# Regenerate and compile the English translation catalogs in locale/en/.
#
# The source language is French (fr-CA); English is the only catalog. The
# compiled .mo files are committed, so installing or running the project never
# needs GNU gettext; this maintainer tool does (msgfmt, xgettext).
#
# Usage (from anywhere): scripts/messages.sh
# Then translate every new or changed entry in locale/en/LC_MESSAGES/*.po
# (no empty msgstr, no "#, fuzzy" flag), run this script again to compile, and
# run tests/test_i18n.py before committing the .po and .mo files together.
set -euo pipefail

cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-.venv/bin/python}"

# makemessages only writes into an existing locale directory.
mkdir -p locale/en/LC_MESSAGES

# Python code and templates.
"$PYTHON" manage.py makemessages -l en --no-obsolete \
    --ignore='.venv/*' --ignore='static/vendor/*' --ignore='tests/*' --ignore='bench/*' \
    --ignore='staticfiles/*'

# JavaScript: only our own code in static/js/.
"$PYTHON" manage.py makemessages -l en -d djangojs --no-obsolete \
    --ignore='.venv/*' --ignore='static/vendor/*' --ignore='tests/*' --ignore='bench/*' \
    --ignore='staticfiles/*' --ignore='docs/*' --ignore='scripts/*'

"$PYTHON" manage.py compilemessages -l en --ignore='.venv/*'
