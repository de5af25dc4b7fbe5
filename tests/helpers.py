"""What tests share besides fixtures (those live in conftest.py): posts written into temporary folders,
the shared corpus and eval set, outside programs a test needs, and waiting for something to happen.

Tests that need ``../shared`` (the real corpus and the eval set), ``searchd``, Chromium or Hexo
skip with a reason in a user's own clone, but fail in CI (``CI=true``), where they always exist,
so nothing silently stops being tested.
"""

from __future__ import annotations

import os
import shutil
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

import jsonschema
import pytest

from tests.servers import free_ports

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
RSSHUB = SHARED / "corpus" / "rsshub"
EVAL = SHARED / "eval"


def missing(message: str) -> NoReturn:
    """Skip the test for something absent from this machine; fail instead in CI, where it must be there."""
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def require_shared(path: Path) -> Path:
    """Return ``path`` if it exists; otherwise skip (or fail in CI)."""
    if not path.exists():
        missing(f"{path} not found: the shared corpus is beside the repository in CI")
    return path


def require_searchd() -> str:
    """Return the path of Sphinx's ``searchd``; skip without it (fail in CI)."""
    path = shutil.which("searchd")
    if path is None:
        missing("searchd not found: the Sphinx backend tests need apt-get install sphinxsearch (.ci/run does it)")
    return path


def start_cluster(directory: Path, *, shards: int = 2, mirrors: int = 2, nodes: int = 3):
    """Write a shard map for local nodes in ``directory``, start them and return the map."""
    from search.sphinx.cluster import MAP_FILE, load_map, plan_cluster, start, write_map

    require_searchd()
    planned = plan_cluster(directory, shards=shards, mirrors=mirrors, nodes=nodes, base_port=free_ports(2 * nodes))
    write_map(planned, directory / MAP_FILE)
    cluster = load_map(directory / MAP_FILE)
    start(cluster)
    return cluster


def write_post(root: Path, rel: str, *, title: str = "标题", body: str = "<p>正文</p>", date: str | None = "2022-06-07",
               author: str = "测试来源", categories: tuple[str, ...] = ("新闻", "测试来源", "要闻"),
               extra: str = "") -> Path:
    """Write one Hexo post under ``root`` and return its path."""
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    cats = "".join(f"\n - {c}" for c in categories)
    header = f"title: '{title}'\ncategories:{cats}\nauthor: {author}\n"
    if date is not None:
        header += f"date: {date}\n"
    path.write_text(f"---\n{header}{textwrap.dedent(extra)}---\n\n{body}\n", encoding="utf-8")
    return path


def write_small_corpus(root: Path) -> Path:
    """Write the tiny corpus of four posts (Simplified, Traditional and full-width) under ``root``."""
    write_post(root, "体育/新华/要闻/冬奥会开幕.md", title="北京冬奥会开幕式举行", date="2022-02-04",
               author="新华社", categories=("体育", "新华社", "要闻"),
               body="<p>第二十四届冬奥会开幕式在国家体育场举行。</p><p>中亚五国峰会代表出席。</p>")
    write_post(root, "国际/香港/要聞/論壇.md", title="國際論壇在港舉行", date="2021-10-28 14:08:07",
               author="香江通訊", categories=("国际", "香江通訊", "要聞"),
               body="<p>亞洲經濟國際論壇今日開幕，與會者討論數字轉型。</p>")
    write_post(root, "财经/晨光/快讯/GDP.md", title="一季度ＧＤＰ同比增长", date="'Tue, 25 Jan 2022 17:07:56 GMT'",
               author="晨光财经", categories=("财经", "晨光财经", "快讯"),
               body="<p>一季度ＧＤＰ同比增长５．２％，全长３３００公里的高铁贯通。</p>")
    write_post(root, "科技/环球/科技/iPhone.md", title="iPhone 15 发布", date="2023-06-12",
               author="环球日报", categories=("科技", "环球日报", "科技"),
               body="<p>Apple released the iPhone 15 with USB-C. 新款手机支持5G。</p>")
    return root


#: A typhoon story, published by several sources in :func:`write_story_corpus`.
STORY = ("<p>台风“山竹”今天下午在广东台山海宴镇登陆，登陆时中心附近最大风力十四级。</p>"
         "<p>受其影响，广东、广西多地停课停工，深圳、珠海等地的机场取消了大部分航班，铁路部门也暂停了部分列车。</p>"
         "<p>气象部门提醒，台风过境后仍有强降雨，市民应远离海边和低洼地带，注意防范山洪和地质灾害。</p>")
AFTERMATH = ("<p>台风山竹过境后，深圳全市清理倒伏树木超过两万棵，主干道路已经基本恢复通行。</p>"
             "<p>环卫工人连夜作业，地铁和公交线路陆续恢复运营，学校将在周三复课。</p>")
WARNING = ("<p>中央气象台今晨发布台风红色预警，台风山竹预计将于明天在广东沿海登陆。</p>"
           "<p>沿海渔船已全部回港避风，广东、广西启动防台风一级应急响应。</p>")


def write_story_corpus(root: Path) -> Path:
    """Three copies of one typhoon story (a re-post and an edit), coverage around it, and an older post."""
    write_post(root, "新华社/landfall.md", title="台风山竹登陆广东", body=STORY, date="2018-09-16", author="新华社")
    write_post(root, "星岛/landfall.md", title="颱風山竹登陸廣東", author="星島日報", date="2018-09-16 18:00:00",
               body=STORY.replace("，", " ").replace("广东", "廣東") + "<p>本文來源：星島日報</p>")
    write_post(root, "羊城晚报/landfall.md", title="山竹登陆 广东多地停课停工", author="羊城晚报", date="2018-09-17",
               body=STORY + "<p>截至晚上八时，全省已转移群众超过一百万人。</p>")
    write_post(root, "新华社/aftermath.md", title="台风过后深圳清理倒伏树木", body=AFTERMATH, date="2018-09-18",
               author="新华社")
    write_post(root, "新华社/warning.md", title="台风山竹红色预警", body=WARNING, date="2018-09-15", author="新华社")
    write_post(root, "新华社/last-year.md", title="台风天鸽登陆珠海", date="2017-08-23", author="新华社",
               body="<p>台风天鸽在广东珠海登陆，珠海、澳门等地学校停课，深圳机场取消航班。</p>")
    return root


def wait_for(condition: Callable[[], object], timeout: float = 20.0, interval: float = 0.1) -> bool:
    """Return True as soon as ``condition()`` is true, False if it is still false after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)
    return True


def check_response(doc: dict, schema: dict, value) -> None:
    """Validate ``value`` against ``schema`` from the OpenAPI 3.1 document ``doc`` (JSON Schema 2020-12).

    Stricter than the document says: an object may hold only the properties it lists,
    so a field the document does not describe fails too.

    :raises jsonschema.ValidationError: naming the first value that does not match.
    """
    root = {**_closed(schema), "components": {"schemas": _closed(doc["components"]["schemas"])}}
    jsonschema.Draft202012Validator(root, format_checker=jsonschema.FormatChecker()).validate(value)


def _closed(schema):
    """``schema`` with ``additionalProperties: false`` on every object schema that lists its properties."""
    if isinstance(schema, list):
        return [_closed(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    closed = {key: _closed(value) for key, value in schema.items()}
    if "properties" in schema and "additionalProperties" not in schema:
        closed["additionalProperties"] = False
    return closed


def posts_in_segments(index_dir: Path) -> list[int]:
    """Return the number of posts in each segment of an index's live generation, smallest first."""
    from whoosh import index as whoosh_index

    live = next(p for p in index_dir.iterdir() if p.name.startswith("gen-"))
    with whoosh_index.open_dir(live).reader() as reader:
        return sorted(segment.doc_count_all() for segment, _ in reader.leaf_readers())
