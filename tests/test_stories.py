"""Stories end to end: folded results in the library, CLI, API and pages; updates; related coverage."""

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from search import Index, PostUrls, build_index, update_index
from search.cli import cli
from tests.helpers import STORY, write_post, write_story_corpus
from web import create_app

@pytest.fixture
def posts(tmp_path: Path) -> Path:
    return write_story_corpus(tmp_path / "posts")


@pytest.fixture
def story_index(posts: Path, tmp_path: Path) -> Path:
    build_index(posts, tmp_path / "index", procs=1)
    return tmp_path / "index"


def test_build_reports_the_stories_found(posts, tmp_path):
    assert build_index(posts, tmp_path / "ix", procs=1).stories == 1


def test_search_shows_a_story_once_with_its_other_copies(story_index):
    with Index.open(story_index) as ix:
        results = ix.search("深圳 停课", sort="oldest", partial=False)  # full matches only: what folds is the point
    assert (results.total, results.total_posts, results.counts) == (2, 4, "stories")
    assert [h.id for h in results.hits] == ["新华社/last-year.md", "新华社/landfall.md"]
    copies = results.hits[1].copies
    assert [(c.id, c.source, f"{c.date:%Y-%m-%d}") for c in copies] == [
        ("星岛/landfall.md", "星島日報", "2018-09-16"), ("羊城晚报/landfall.md", "羊城晚报", "2018-09-17")]


def test_a_story_is_shown_by_its_best_ranked_copy(story_index):
    with Index.open(story_index) as ix:
        assert ix.search("一百万人").hits[0].id == "羊城晚报/landfall.md"  # the only copy that matches
        assert ix.search("停课停工", sort="newest").hits[0].id == "羊城晚报/landfall.md"
        assert ix.search("停课停工", sort="oldest").hits[0].id == "新华社/landfall.md"


def test_facets_count_stories_when_folded_and_posts_when_not(story_index):
    with Index.open(story_index) as ix:
        folded, unfolded = ix.search("山竹 停课"), ix.search("山竹 停课", fold=False)
    assert dict((f.value, f.count) for f in folded.facets["month"]) == {"2018-09": 1}
    assert dict((f.value, f.count) for f in unfolded.facets["month"]) == {"2018-09": 3}
    assert dict((f.value, f.count) for f in folded.facets["source"]) == {"新华社": 1, "星島日報": 1, "羊城晚报": 1}


def test_fold_false_lists_every_copy_without_copies(story_index):
    with Index.open(story_index) as ix:
        results = ix.search("停课停工", fold=False, partial=False)
    assert (results.total, results.total_posts, results.counts) == (3, 3, "posts")
    assert all(h.copies == () for h in results.hits)


def test_paging_counts_stories(story_index):
    with Index.open(story_index) as ix:
        first, second = ix.search("台风", per_page=2), ix.search("台风", per_page=2, page=2)
    assert (first.total, first.pages, len(first.hits), len(second.hits)) == (4, 2, 2, 2)
    assert not {h.id for h in first.hits} & {h.id for h in second.hits}


def test_post_lists_the_other_copies_of_its_story(story_index):
    with Index.open(story_index) as ix:
        assert [c.id for c in ix.get("星岛/landfall.md").copies] == ["新华社/landfall.md", "羊城晚报/landfall.md"]
        assert ix.get("新华社/aftermath.md").copies == ()


def test_update_joins_a_new_copy_and_an_earlier_copy_becomes_canonical(posts, story_index):
    write_post(posts, "人民网/landfall.md", title="台风山竹在广东台山登陆", date="2018-09-15", author="人民网",
               body=STORY + "<p>人民网记者现场报道。</p>")
    (posts / "星岛/landfall.md").unlink()
    report = update_index(story_index, procs=1)
    assert (report.added, report.deleted, report.stories) == (1, 1, 1)
    with Index.open(story_index) as ix:
        hit = ix.search("停课停工", sort="oldest").hits[0]
    assert hit.id == "人民网/landfall.md"
    assert [c.id for c in hit.copies] == ["新华社/landfall.md", "羊城晚报/landfall.md"]


def test_a_fast_update_keeps_stories_and_leaves_a_new_copy_alone_until_the_next_update(posts, story_index):
    write_post(posts, "人民网/landfall.md", title="台风山竹在广东台山登陆", date="2018-09-15", author="人民网",
               body=STORY + "<p>人民网记者现场报道。</p>")
    (posts / "新华社/warning.md").unlink()  # the documents are numbered anew
    update_index(story_index, procs=1, fast=True)

    def story(ix) -> dict[str, list[str]]:
        return {h.id: [c.id for c in h.copies] for h in ix.search("停课停工", sort="oldest", partial=False).hits}

    with Index.open(story_index) as ix:
        assert story(ix) == {"人民网/landfall.md": [],
                             "新华社/landfall.md": ["星岛/landfall.md", "羊城晚报/landfall.md"]}
    report = update_index(story_index, procs=1)  # nothing changed, but the stories are stale
    assert (report.added, report.stories) == (0, 1)
    with Index.open(story_index) as ix:
        assert story(ix) == {"人民网/landfall.md": ["新华社/landfall.md", "星岛/landfall.md", "羊城晚报/landfall.md"]}
    assert update_index(story_index, procs=1).merge is None  # up to date now: no new generation


def test_update_never_writes_into_the_previous_generation(posts, story_index):
    before = {p.name: p.read_bytes() for p in next(story_index.glob("gen-*")).iterdir() if p.suffix == ".npz"}
    write_post(posts, "新/landfall.md", title="台风山竹登陆", date="2018-09-16", author="新", body=STORY)
    update_index(story_index, procs=1, policy=None, vocabulary=False)  # a merge or the vocabulary would publish
    # another generation and retire this one
    old = sorted(story_index.glob("gen-*"))[0]
    assert {name: (old / name).read_bytes() for name in before} == before


def test_related_coverage_is_in_date_order_within_the_window_and_folded(story_index):
    with Index.open(story_index) as ix:
        related = ix.related_coverage("新华社/aftermath.md")
        narrow = ix.related_coverage("新华社/aftermath.md", days=2)
    assert [h.id for h in related] == ["新华社/warning.md", "新华社/landfall.md"]  # not 2017, one per story
    assert [c.id for c in related[1].copies] == ["星岛/landfall.md", "羊城晚报/landfall.md"]
    assert [h.id for h in narrow] == ["新华社/landfall.md"]


def test_related_coverage_leaves_out_the_posts_own_story(story_index):
    with Index.open(story_index) as ix:
        ids = [h.id for h in ix.related_coverage("星岛/landfall.md")]
    assert "新华社/landfall.md" not in ids and "羊城晚报/landfall.md" not in ids and ids


@pytest.mark.parametrize("flags, total, listed", [([], "2 stories (4 posts)", 2), (["--no-fold"], "4 results", 4)])
def test_cli_folds_unless_told_not_to(story_index, flags, total, listed):
    result = CliRunner().invoke(cli, ["query", "--index", str(story_index), "深圳 停课", "--sort", "oldest", *flags,
                                      "--no-partial"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(total)
    assert len(re.findall(r"^ +\d+\. ", result.output, re.MULTILINE)) == listed
    assert ("+ 2 other copies:" in result.output) == (not flags)


def test_cli_json_carries_copies_and_what_counts(story_index):
    result = CliRunner().invoke(cli, ["query", "--index", str(story_index), "停课停工", "--json", "--sort", "oldest",
                                      "--no-partial"])
    line = json.loads(result.output)
    assert (line["total"], line["total_posts"], line["counts"]) == (1, 3, "stories")
    assert [c["path"] for c in line["hits"][0]["copies"]] == ["星岛/landfall.md", "羊城晚报/landfall.md"]


@pytest.fixture
def client(story_index):
    return create_app({"TESTING": True, "INDEX_DIR": str(story_index)}).test_client()


def test_api_folds_by_default_and_fold_0_lists_posts(client):
    folded = client.get("/api/search?q=停课停工&partial=0").get_json()
    posts = client.get("/api/search?q=停课停工&fold=0&partial=0").get_json()
    assert (folded["total"], folded["counts"], len(folded["hits"][0]["copies"])) == (1, "stories", 2)
    assert (posts["total"], posts["counts"], [h["copies"] for h in posts["hits"]]) == (3, "posts", [[], [], []])


def test_api_rejects_a_bad_fold_value(client):
    response = client.get("/api/search?q=台风&fold=yes")
    assert response.status_code == 400
    assert "fold 只能是 1 或 0（true 或 false）" in response.get_json()["error"]["message"]


def test_api_related_and_post_copies(client):
    related = client.get("/api/related/新华社/aftermath.md?days=30").get_json()
    assert [h["path"] for h in related["hits"]] == ["新华社/warning.md", "新华社/landfall.md"]
    assert [c["path"] for c in client.get("/api/post/星岛/landfall.md").get_json()["copies"]] == [
        "新华社/landfall.md", "羊城晚报/landfall.md"]
    assert client.get("/api/related/新华社/aftermath.md?days=x").status_code == 400


def test_results_page_shows_other_copies_in_an_expandable_list_and_a_toggle(client):
    html = client.get("/search?q=停课停工&sort=oldest&partial=0").get_data(as_text=True)
    assert "找到 <strong>1</strong> 篇报道（共 3 篇文章，相同报道已合并）" in html
    assert '<details class="copies">\n  <summary>另有 2 篇相同报道</summary>' in html
    assert "羊城晚报 · <time" in html and "按报道计" in html
    assert 'href="/search?q=%E5%81%9C%E8%AF%BE%E5%81%9C%E5%B7%A5&amp;sort=oldest&amp;fold=0&amp;partial=0">逐篇显示所有版本</a>' in html


def test_fold_0_page_lists_every_copy_and_keeps_the_choice(client):
    html = client.get("/search?q=停课停工&fold=0").get_data(as_text=True)
    assert "找到 <strong>3</strong> 条结果" in html and '<details class="copies">' not in html
    assert '<input type="hidden" name="fold" value="0">' in html and "按文章计" in html
    assert ">合并相同报道</a>" in html


def test_article_page_shows_related_coverage_in_date_order_and_its_copies(client):
    html = client.get("/post/新华社/aftermath.md").get_data(as_text=True)
    coverage = html.split('id="related-title"')[1]
    assert coverage.index("台风山竹红色预警") < coverage.index("台风山竹登陆广东")
    assert "台风天鸽" not in coverage and "另有 2 篇相同报道" in coverage
    copies = client.get("/post/星岛/landfall.md").get_data(as_text=True)
    assert "本文的其他版本" in copies and "山竹登陆 广东多地停课停工" in copies


def test_every_copy_carries_its_blog_url(story_index):
    with Index.open(story_index, post_urls=PostUrls("https://blog.example.com", permalink="p/:title/")) as ix:
        copies = ix.search("深圳 停课", sort="oldest").hits[1].copies
    assert [c.url for c in copies] == ["https://blog.example.com/p/%E6%98%9F%E5%B2%9B/landfall/",
                                       "https://blog.example.com/p/%E7%BE%8A%E5%9F%8E%E6%99%9A%E6%8A%A5/landfall/"]
    assert copies[0].to_dict()["url"] == copies[0].url
