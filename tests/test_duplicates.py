"""The near-duplicate detector on its own: real re-posts and edits are one story; shared boilerplate is not."""

from datetime import datetime, timedelta, timezone

from search.corpus.posts import Document
from search.corpus.duplicates import FingerprintTable, find_stories, fingerprint

STORY = ("台风“山竹”今天下午在广东台山海宴镇登陆，登陆时中心附近最大风力十四级。\n"
         "受其影响，广东、广西多地停课停工，深圳、珠海等地的机场取消了大部分航班，铁路部门也暂停了部分列车。\n"
         "气象部门提醒，台风过境后仍有强降雨，市民应远离海边和低洼地带，注意防范山洪和地质灾害。")
#: A feed's footer, longer than any of its posts' own text.
FOOTER = ("\n点击关注我们，获取更多本地新闻资讯。长按下方二维码，添加小编微信，加入读者交流群，"
          "第一时间了解城市动态、交通出行、天气预报和便民服务信息。本文由本号原创，转载请联系授权，"
          "未经许可不得转载。商务合作请发送邮件，我们会在三个工作日内回复。喜欢这篇文章请点赞、在看、分享给朋友。")
SHORT_NEWS = ["市图书馆周末延长开放时间至晚上九点，读者可在线预约座位。",
              "地铁三号线北延段本月底开通试运营，新增车站六座。",
              "本周六上午城区部分路段临时交通管制，请市民绕行。",
              "市民公园荷花进入最佳观赏期，游客可免费入园参观。",
              "今年首批保障性租赁住房开始申请，符合条件的家庭可网上登记。",
              "气象台发布高温橙色预警，预计最高气温将达到三十八度。"]
DAY = datetime(2018, 9, 16, 8, tzinfo=timezone.utc)


def doc(doc_id: str, text: str, *, title: str = "台风山竹登陆广东", source: str = "新华社",
        date: datetime | None = DAY) -> Document:
    return Document(doc_id, title, source, ("新闻",), date, None, text, "")


def stories(*docs: Document) -> list[list[str]]:
    """Return the stories of ``docs`` with more than one copy, as sorted id lists, canonical first."""
    table = FingerprintTable.from_fingerprints(fingerprint(d) for d in docs)
    canonical = find_stories(table)
    groups: dict[int, list[str]] = {}
    for row, head in enumerate(canonical.tolist()):
        groups.setdefault(head, []).append(table.ids[row])
    return sorted([table.ids[head]] + sorted(set(ids) - {table.ids[head]})
                  for head, ids in groups.items() if len(ids) > 1)


def test_repost_in_traditional_script_with_other_punctuation_is_a_copy():
    repost = STORY.replace("，", " ").replace("广东", "廣東").replace("台风", "颱風")
    assert stories(doc("a", STORY), doc("b", repost, title="颱風山竹登陸廣東", source="星島")) == [["a", "b"]]


def test_edited_republication_with_a_new_headline_and_paragraph_is_a_copy():
    edited = STORY + "\n截至晚上八时，全省已转移群众超过一百万人，暂无人员伤亡报告。"
    later = doc("b", edited, title="山竹登陆 广东多地停课停工", date=DAY + timedelta(hours=10))
    assert stories(doc("a", STORY), later) == [["a", "b"]]


def test_canonical_copy_is_the_earliest_whatever_the_id():
    early = doc("z-first", STORY, date=DAY - timedelta(days=1))
    undated = doc("a-undated", STORY, date=None)
    assert stories(doc("m", STORY), early, undated) == [["z-first", "a-undated", "m"]]


def test_posts_sharing_a_long_footer_are_not_copies():
    posts = [doc(f"feed-{i}", text + FOOTER, title=text[:8], source="本地公众号", date=DAY + timedelta(days=i))
             for i, text in enumerate(SHORT_NEWS)]
    assert stories(*posts) == []


def test_copies_under_a_shared_footer_are_still_found():
    posts = [doc(f"feed-{i}", text + FOOTER, title=text[:8], source="本地公众号", date=DAY + timedelta(days=i))
             for i, text in enumerate(SHORT_NEWS)]
    repost = doc("other", STORY + "\n来源：羊城晚报", source="羊城晚报")
    assert stories(*posts, doc("feed-story", STORY + FOOTER, source="本地公众号"), repost) == [["feed-story", "other"]]


def test_short_posts_differing_in_a_number_are_not_copies():
    weekly = [doc(f"w{n}", f"Go语言爱好者周刊：第 {n} 期", title=f"Go语言爱好者周刊：第 {n} 期") for n in (155, 156)]
    assert stories(*weekly) == []


def test_unrelated_posts_are_not_copies():
    assert stories(doc("a", STORY), doc("b", SHORT_NEWS[0] * 3, title="图书馆")) == []


def test_the_same_text_weeks_apart_is_two_stories():
    assert stories(doc("a", STORY), doc("b", STORY, date=DAY + timedelta(days=30))) == []


def test_fingerprint_table_round_trips_through_a_file(tmp_path):
    table = FingerprintTable.from_fingerprints([fingerprint(doc("a", STORY)), fingerprint(doc("b", "", date=None))])
    table.save(tmp_path / "f.npz")
    loaded = FingerprintTable.load(tmp_path / "f.npz")
    assert list(loaded.fingerprints()) == list(table.fingerprints())
    assert FingerprintTable.load(tmp_path / "missing.npz") is None


def test_boilerplate_masks_worked_out_per_changed_source_equal_a_full_recomputation(tmp_path):
    from search.corpus.duplicates import FingerprintTable, boilerplate_mask, fingerprint

    def post(i: int, source: str, title: str) -> Document:
        footer = "点击关注我们获取更多资讯，本文由编辑部整理发布，转载请注明出处。"
        return Document(f"{source}/{i}.md", title, source, (), None, None, f"第{i}条新闻正文内容各不相同{i * 7919}。{footer}", "")

    first = [fingerprint(post(i, f"来源{i % 3}", f"标题{i}")) for i in range(40)]
    table = FingerprintTable.from_fingerprints(first)
    table.boilerplate()
    table.save(tmp_path / "fp.npz")
    added = [fingerprint(post(i, "来源1", f"新标题{i}")) for i in range(40, 46)]
    updated = FingerprintTable.load(tmp_path / "fp.npz").replaced(["来源2/2.md"], added)
    assert updated.stale == {"来源1", "来源2"}
    assert (updated.boilerplate() == boilerplate_mask(updated)).all()
    assert updated.boilerplate()[[s == "来源1" for s in updated.sources]].any()  # the shared footer is masked
