"""A Hexo blog's folder: where its posts are, and the settings of its ``_config.yml`` that decide their URLs.

``news-search build --blog ~/blog`` indexes ``~/blog/source/_posts`` and
``news-search serve --blog ~/blog`` links results to the posts as that blog
names them, so nothing is copied by hand from one to the other. Only the
settings that shape a post's URL are read (url, root, permalink,
permalink_defaults, pretty_urls, timezone, and the rarer new_post_name,
post_asset_folder, default_category, category_map, filename_case, source_dir);
Hexo's defaults fill in what the file leaves out.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import yaml

from ..errors import SearchError
from .permalinks import DEFAULT_NEW_POST_NAME, DEFAULT_PERMALINK, PostUrls

#: The names Hexo looks for (it takes the first ``_config.*`` it finds).
CONFIG_FILES = ("_config.yml", "_config.yaml", "_config.json")
#: Hexo's own defaults for the settings read here (hexo/dist/hexo/default_config.js).
HEXO_DEFAULTS = {
    "url": "http://example.com", "root": None, "permalink": DEFAULT_PERMALINK, "permalink_defaults": {},
    "pretty_urls": {"trailing_index": True, "trailing_html": True}, "timezone": "", "source_dir": "source",
    "new_post_name": DEFAULT_NEW_POST_NAME, "post_asset_folder": False, "default_category": "uncategorized",
    "category_map": {}, "filename_case": 0,
}


class BlogError(SearchError):
    """The blog folder has no readable Hexo configuration, or a setting news-search cannot use."""


@dataclass(frozen=True)
class Blog:
    """A Hexo blog on disk and its URL settings (Hexo's defaults where ``_config.yml`` is silent)."""

    path: Path
    settings: dict

    @property
    def posts_dir(self) -> Path:
        """The folder of its posts, ``source/_posts`` (below Hexo's ``source_dir``)."""
        return self.path / str(self.settings["source_dir"]) / "_posts"

    @property
    def site(self) -> str:
        """Where the blog's pages are: ``url``, with ``root`` appended when ``url`` names no folder of its own.

        >>> Blog(Path("."), {**HEXO_DEFAULTS, "url": "https://me.github.io", "root": "/blog/"}).site
        'https://me.github.io/blog/'
        """
        url, root = str(self.settings["url"]).rstrip("/"), self.settings["root"]
        if urlsplit(url).path.strip("/") or not root or str(root).strip("/") == "":
            return url
        return f"{url}/{str(root).strip('/')}/"

    def post_urls(self, *, site: str | None = None, permalink: str | None = None, timezone: str | None = None,
                  build_timezone: str | None = None) -> PostUrls:
        """Return the blog's URL settings; a value given here wins over ``_config.yml``.

        :raises ValueError: for a setting that is malformed (the message names it).
        """
        s = self.settings
        pretty = {**HEXO_DEFAULTS["pretty_urls"], **_mapping(s["pretty_urls"], "pretty_urls")}
        return PostUrls(
            site or self.site, permalink=permalink or str(s["permalink"]),
            timezone=timezone if timezone is not None else str(s["timezone"] or ""),
            build_timezone=build_timezone or "",
            permalink_defaults={str(k): str(v) for k, v in _mapping(s["permalink_defaults"],
                                                                   "permalink_defaults").items()},
            trailing_index=bool(pretty["trailing_index"]), trailing_html=bool(pretty["trailing_html"]),
            post_asset_folder=bool(s["post_asset_folder"]), new_post_name=str(s["new_post_name"]),
            default_category=str(s["default_category"]),
            category_map={str(k): str(v) for k, v in _mapping(s["category_map"], "category_map").items()},
            filename_case=_int(s["filename_case"], "filename_case"))


def open_blog(path: Path | str) -> Blog:
    """Read the Hexo blog in folder ``path``.

    :raises BlogError: if the folder holds no ``_config.yml`` or it cannot be read.
    """
    path = Path(path)
    config = next((path / name for name in CONFIG_FILES if (path / name).is_file()), None)
    if config is None:
        raise BlogError(f"{path} is not a Hexo blog: it has no _config.yml")
    try:
        data = yaml.safe_load(config.read_text(encoding="utf-8-sig")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise BlogError(f"cannot read {config}: {first_line}") from None
    if not isinstance(data, dict):
        raise BlogError(f"cannot read {config}: it is not a mapping of settings")
    settings = {key: default if data.get(key) is None else data[key] for key, default in HEXO_DEFAULTS.items()}
    return Blog(path, settings)


def _mapping(value, name: str) -> dict:
    if not isinstance(value, dict):
        raise ValueError(f"{name} in the blog's _config.yml must be a mapping, not {value!r}")
    return value


def _int(value, name: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} in the blog's _config.yml must be a number, not {value!r}") from None
