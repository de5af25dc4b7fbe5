"""A real Hexo blog for tests: the pinned Hexo 8, renderers and themes of ``tests/hexo/``, the
``hexo-news-search`` plugin from ``web/hexo-plugin``, and ``hexo generate`` run under a chosen ``TZ``.

``.ci/run`` installs the npm packages once into a cache outside the clone (``tests/hexo/install.sh``);
tests needing them skip with a reason where node or that install is missing, and fail in CI
(``CI=true``), as the other tests needing outside programs do.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.helpers import missing

HERE = Path(__file__).resolve().parent
LOCK = HERE / "hexo" / "package-lock.json"
PLUGIN = HERE.parent / "web" / "hexo-plugin"
#: The Hexo plugins and renderers every test blog loads (the themes' own needs included).
PLUGINS = ("hexo-generator-archive", "hexo-generator-category", "hexo-generator-index", "hexo-generator-tag",
           "hexo-renderer-ejs", "hexo-renderer-marked", "hexo-renderer-pug", "hexo-renderer-stylus")
THEMES = ("landscape", "next", "butterfly", "fluid")
#: Prints Hexo's own list of posts (source file -> path) as JSON after generating the site.
GENERATE = """
const path = require('path');
const Hexo = require(path.join(process.cwd(), 'node_modules', 'hexo'));
(async () => {
  const hexo = new Hexo(process.cwd(), { silent: true });
  await hexo.init();
  await hexo.call('generate', {});
  const posts = hexo.locals.get('posts').toArray().map(p => ({ source: p.source, path: p.path }));
  await hexo.exit();
  process.stdout.write(JSON.stringify(posts));
})().catch(err => { console.error(err); process.exit(1); });
"""


def hexo_modules() -> Path:
    """Return the node_modules folder holding the pinned Hexo (skip, or fail in CI, without it)."""
    if shutil.which("node") is None:
        missing("node not found: the Hexo tests need Node.js and npm")
    key = hashlib.sha1(LOCK.read_bytes()).hexdigest()[:12]
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    folder = Path(os.environ.get("NEWS_SEARCH_HEXO_DIR") or cache / "news-search" / f"hexo-{key}") / "node_modules"
    if not (folder / ".installed").exists():
        missing(f"Hexo is not installed in {folder}: run tests/hexo/install.sh (bash .ci/run does)")
    return folder


@dataclass(frozen=True)
class Blog:
    """A Hexo blog folder made for a test."""

    path: Path

    @property
    def posts(self) -> Path:
        return self.path / "source" / "_posts"

    @property
    def public(self) -> Path:
        return self.path / "public"


def make_blog(path: Path, config: str, *, theme: str = "landscape", plugin: bool = False) -> Blog:
    """Make a blog folder at ``path`` with ``config`` as its ``_config.yml``, loading the pinned packages.

    The blog's node_modules links to every package of the cached install (and to the plugin from
    this repository when ``plugin``), as ``npm install`` would have placed them; its package.json
    names Hexo, the renderers and the theme, which is what Hexo loads.
    """
    modules = hexo_modules()
    names = ["hexo", *PLUGINS, f"hexo-theme-{theme}"]
    (path / "node_modules").mkdir(parents=True, exist_ok=True)
    for package in modules.iterdir():
        if not package.name.startswith("."):
            (path / "node_modules" / package.name).symlink_to(package, target_is_directory=True)
    dependencies = {name: "*" for name in names}
    if plugin:
        (path / "node_modules" / "hexo-news-search").symlink_to(PLUGIN, target_is_directory=True)
        dependencies["hexo-news-search"] = f"file:{PLUGIN}"
    (path / "package.json").write_text(json.dumps({"name": "blog", "private": True, "version": "0.0.0",
                                                   "hexo": {"version": "8.1.2"}, "dependencies": dependencies}))
    (path / "_config.yml").write_text(config, encoding="utf-8")
    (path / "source" / "_posts").mkdir(parents=True, exist_ok=True)
    return Blog(path)


def generate(blog: Blog, tz: str) -> dict[str, str]:
    """Run ``hexo generate`` afresh (no cache from an earlier run) with the machine's zone ``tz``.

    Returns Hexo's own ``{post file under _posts: path}`` for the posts it rendered.
    """
    for leftover in (blog.path / "db.json", blog.public):
        if leftover.is_dir():
            shutil.rmtree(leftover)
        elif leftover.exists():
            leftover.unlink()
    done = subprocess.run(["node", "-e", GENERATE], cwd=blog.path, env={**os.environ, "TZ": tz},
                          capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise RuntimeError(f"hexo generate failed: {done.stderr[-2000:]}")
    return {post["source"].removeprefix("_posts/"): post["path"] for post in json.loads(done.stdout)}
