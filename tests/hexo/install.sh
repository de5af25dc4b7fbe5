#!/usr/bin/env bash
# Install the pinned Hexo, renderers, themes and theme libraries of tests/hexo/package-lock.json into a
# cache outside the clone, keyed by the lock file, and print its node_modules folder. A second run with
# the same lock file installs nothing; npm's own cache makes a fresh folder quick too.
# NEWS_SEARCH_HEXO_DIR overrides the folder. tests/hexo_site.py finds the same folder by itself.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
key="$(sha1sum "$here/package-lock.json" | cut -c1-12)"
dir="${NEWS_SEARCH_HEXO_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/news-search/hexo-$key}"
if [ ! -f "$dir/node_modules/.installed" ]; then
  mkdir -p "$dir"
  cp "$here/package.json" "$here/package-lock.json" "$dir/"
  (cd "$dir" && npm ci --prefer-offline --no-audit --no-fund --loglevel=error >&2)
  touch "$dir/node_modules/.installed"
fi
echo "$dir/node_modules"
