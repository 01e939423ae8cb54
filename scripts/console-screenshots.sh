#!/bin/bash
# Regenerates the console's screenshots in docs/console/ (shown in docs/console.md): the browser
# test TestConsoleInBrowser, driving Debian's headless chromium, captures each page on its way.
#   bash scripts/console-screenshots.sh
set -eu
cd "$(dirname "$0")/.."
mkdir -p docs/console
go test ./e2e -run '^TestConsoleInBrowser$' -count=1 -args -console.screenshots="$PWD/docs/console"
ls -l docs/console/*.png
