"""The OpenAPI 3.1 document of the JSON API (tests check it against real responses)."""

from __future__ import annotations

from search.query.request import COVERAGE_DAYS, MAX_SERVED_PER_PAGE, SORTS

from .params import MAX_FILTER_CHARS, MAX_PAGE

#: Widest related-coverage window /api/related accepts, in days either side.
MAX_COVERAGE_DAYS = 3660

STRING, INTEGER, NUMBER = {"type": "string"}, {"type": "integer"}, {"type": "number"}
NULLABLE_STRING = {"type": ["string", "null"]}
FILTER = {"type": "string", "maxLength": MAX_FILTER_CHARS}
NULLABLE_DATE = {"type": ["string", "null"], "format": "date-time"}
STRINGS = {"type": "array", "items": STRING}
BLOG_URL = {"type": ["string", "null"], "format": "uri",
            "description": "The post's URL on the blog; null unless the server was given the blog's settings, "
                           "and for a post Hexo writes no reachable page for (news-search build lists them)."}
LANG = {"type": ["string", "null"],
        "description": "BCP 47 tag of the language the post is written in (zh-Hans, zh-Hant, en, ja, ...): its "
                       "front matter's lang, else read from its text; null if it has no letters."}


def _object(properties: dict, optional: tuple[str, ...] = ()) -> dict:
    return {"type": "object", "properties": properties,
            "required": [name for name in properties if name not in optional]}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


COPIES = {"type": "array", "items": _ref("Copy"),
          "description": "The other copies of the post's story (re-posts, edited re-publications), earliest first."}

SCHEMAS = {
    "Hit": _object({"path": STRING, "score": NUMBER, "title": STRING,
                    "title_html": {"type": "string", "description": "Escaped title, matches in <mark>."},
                    "source": STRING, "categories": STRINGS, "date": NULLABLE_DATE,
                    "image": NULLABLE_STRING,
                    "snippet": {"type": "string", "description": "Escaped text, matches in <mark>."},
                    "url": BLOG_URL, "lang": LANG,
                    "copies": {**COPIES, "description": COPIES["description"] + " Empty unless folded."},
                    "partial": {"type": "boolean", "description": "A partial match (部分匹配): the post holds only "
                                "some of the query's required words; partial hits follow every full match."},
                    "missing": {**STRINGS, "description": "The required words (folded) a partial match lacks."}}),
    "Copy": _object({"path": STRING, "title": STRING, "source": STRING, "date": NULLABLE_DATE, "url": BLOG_URL,
                     "lang": LANG}),
    "FacetCount": _object({"value": STRING, "count": INTEGER}),
    "QueryDate": _object({
        "text": {"type": "string", "description": "The words of the query read as a date, e.g. 上个月."},
        "kind": {"type": "string", "enum": ["range", "recent"],
                 "description": "range: a date filter; recent: a vague word (最近) that ranks newer posts higher."},
        "start": {**NULLABLE_DATE, "description": "First instant of the range (UTC), null if open or recent."},
        "end": {**NULLABLE_DATE, "description": "First instant after the range (UTC), null if open or recent."},
        "date": {**NULLABLE_STRING, "description": "The range as a date parameter value, e.g. 2022-09-01..2022-09-30."},
        "also_text": {"type": "boolean",
                      "description": "A month or day without a year (3月): posts that contain the words match too."},
    }),
    "Rewrite": _object({
        "typed": {"type": "string", "description": "Part of q as typed, e.g. dongaohui."},
        "read": {"type": "string", "description": "What it was read as, e.g. 冬奥会 (for kind date: the period)."},
        "kind": {"type": "string", "enum": ["pinyin", "initials", "spelling", "homophone", "shape", "date_text",
                                           "date"]},
    }),
    "Reading": _object({
        "query": {"type": "string", "description": "The query as read: search it (with date_parse) to get these "
                                                   "results."},
        "kind": {"type": "string", "enum": ["typed", "pinyin", "spelling", "date_text"],
                 "description": "typed: q exactly as typed (as_typed=1); pinyin, spelling: words read otherwise; "
                                "date_text: date words that found nothing searched as text."},
        "total": {"type": "integer", "description": "Posts that hold it, each word as one string."},
        "rewrites": {"type": "array", "items": _ref("Rewrite")},
        "dates": {"type": "array", "items": _ref("QueryDate")},
        "date_parse": {"type": "boolean"},
    }),
    "Suggestions": _object({"query": STRING, "suggestions": {
        "type": "array", "items": STRING, "maxItems": 8,
        "description": "Completions of q's last word (title words and phrases, by text, pinyin or initials), "
                       "commonest first, the words before it kept."}}),
    "SearchResults": _object({
        "query": STRING,
        "total": {"type": "integer", "description": "Matching stories or posts, as `counts` says."},
        "total_posts": {"type": "integer", "description": "Matching posts."},
        "counts": {"type": "string", "enum": ["stories", "posts"],
                   "description": "What total, pages and facet counts count: stories (folded) or posts."},
        "page": INTEGER, "per_page": INTEGER, "pages": INTEGER,
        "sort": {"type": "string", "enum": list(SORTS)}, "ms": NUMBER,
        "hits": {"type": "array", "items": _ref("Hit")},
        "facets": _object({name: {"type": "array", "items": _ref("FacetCount")}
                           for name in ("source", "category", "month")}),
        "dates": {"type": "array", "items": _ref("QueryDate"),
                  "description": "Date words read from q and applied (empty with date_parse=0)."},
        "reading": {"oneOf": [{"type": "null"}, _ref("Reading")],
                    "description": "The reading of q these results are for, when q as typed found nothing or very "
                                   "little (pinyin, a typo, date words as text); null: q as typed."},
        "offered": {"type": "array", "items": _ref("Reading"),
                    "description": "Other readings: q as typed when `reading` is set, and corrections that find "
                                   "more (您是不是要找)."},
        "partial": {"type": "boolean", "description": "True when the words, all together, found too little and "
                    "partial matches follow the full ones (each hit says whether it is one)."},
        "exact": {"type": "integer", "description": "Results (of total) holding every required word."},
        "html": {"type": "string", "description": "Only with format=html: the rendered results region."},
    }, optional=("html",)),
    "Post": _object({"path": STRING, "title": STRING, "source": STRING, "categories": STRINGS,
                     "date": NULLABLE_DATE, "image": NULLABLE_STRING, "text": STRING, "url": BLOG_URL,
                     "lang": LANG, "copies": COPIES}),
    "Related": _object({"path": STRING, "days": INTEGER, "hits": {
        "type": "array", "items": _ref("Hit"),
        "description": "Stories like the post within `days` days of it, one per story, earliest first."}}),
    "Stats": _object({"docs": INTEGER, "size_bytes": INTEGER, "built_at": NULLABLE_STRING,
                      "segments": {"type": ["integer", "null"], "description": "Segments of a local index "
                                   "(each query visits every one; merges keep them few); null on a cluster."},
                      "deleted": {"type": "integer", "description": "Deleted posts the segments still hold "
                                  "until a merge purges them."},
                      "corpus": NULLABLE_STRING, "generation": STRING, "segmenter": NULLABLE_STRING,
                      "whoosh_version": {"type": ["string", "null"], "description": "The Whoosh version that "
                                         "wrote a local index (the installed one, or it would not open); "
                                         "null on a cluster."},
                      "first_date": NULLABLE_DATE, "last_date": NULLABLE_DATE,
                      "sources": {"type": "object", "additionalProperties": INTEGER},
                      "categories": {"type": "object", "additionalProperties": INTEGER}}),
    "Error": _object({"error": _object({"status": INTEGER, "message": STRING})}),
}


def _param(name: str, schema: dict, description: str) -> dict:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


SEARCH_PARAMETERS = [
    _param("q", STRING, "Query: words (AND), \"phrase\", -word, A OR B, (…), title:, source:, category:, date:."),
    _param("page", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": 1}, "Page number."),
    _param("per_page", {"type": "integer", "minimum": 1, "maximum": MAX_SERVED_PER_PAGE, "default": 10},
           "Hits per page."),
    _param("sort", {"type": "string", "enum": list(SORTS)},
           "Default relevance; newest when q has no words to rank by (empty, only filters or a date)."),
    _param("source", FILTER, "Only posts of this source."),
    _param("category", FILTER, "Only posts in this category (any level)."),
    _param("date", FILTER, "Date range: 2022, 2022-01..2022-03, >=2022-09-01 (not with from/to)."),
    _param("from", FILTER, "First day/month/year (YYYY, YYYY-MM or YYYY-MM-DD)."),
    _param("to", FILTER, "Last day/month/year, inclusive."),
    _param("date_parse", {"type": "string", "enum": ["1", "0", "true", "false"], "default": "1"},
           "1: read date words in q (去年, 2022年3月, 3月5日, 上周, 近三天) as a date filter, listed in "
           "`dates`; 0: search them as text."),
    _param("fold", {"type": "string", "enum": ["1", "0", "true", "false"], "default": "1"},
           "1: one hit per story, its other copies in `copies`, counts of stories; 0: every post."),
    _param("as_typed", {"type": "string", "enum": ["1", "0", "true", "false"], "default": "0"},
           "1: search q exactly as typed (no pinyin or typo reading, date words that find nothing stay dates)."),
    _param("partial", {"type": "string", "enum": ["1", "0", "true", "false"], "default": "1"},
           "1: when fewer than 10 results hold every required word, the best posts holding some follow "
           "(`partial` hits); 0: only full matches."),
    _param("format", {"type": "string", "enum": ["json", "html"], "default": "json"},
           "html adds the rendered results region as `html`."),
]


def _json(description: str, schema: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": _ref(schema)}}}


def _errors(*statuses: int) -> dict:
    text = {400: "Bad parameter (the message says which).", 404: "No such post.",
            503: "The index is not available."}
    return {str(s): _json(text[s], "Error") for s in statuses}


def _post_path_parameter() -> dict:
    return {"name": "doc_id", "in": "path", "required": True, "schema": STRING,
            "description": "Post path relative to the corpus root, URL-encoded (slashes kept)."}


def openapi_document() -> dict:
    """Return the OpenAPI document served at ``/api/openapi.json``."""
    return {
        "openapi": "3.1.0",
        "info": {"title": "news-search API", "version": "1.0.0",
                 "description": ("Full-text search over a Chinese news archive. Pages of other sites may "
                                 "call it when their origin is allowed (news-search serve --allow-origin).")},
        "paths": {
            "/api/search": {"get": {"summary": "Search posts", "parameters": SEARCH_PARAMETERS,
                                    "responses": {"200": _json("One page of results.", "SearchResults"),
                                                  **_errors(400, 503)}}},
            "/api/suggest": {"get": {
                "summary": "Completions of a query as it is typed (text, pinyin or initials)",
                "parameters": [_param("q", STRING, "What is typed so far, e.g. 冬奥, dongao or dah.")],
                "responses": {"200": _json("Up to 8 completions.", "Suggestions"), **_errors(400, 503)}}},
            "/api/post/{doc_id}": {"get": {"summary": "One post as plain text", "parameters": [
                _post_path_parameter()], "responses": {"200": _json("The post.", "Post"), **_errors(404, 503)}}},
            "/api/related/{doc_id}": {"get": {
                "summary": "Related coverage: similar stories around the post's date, in date order",
                "parameters": [_post_path_parameter(), _param(
                    "days", {"type": "integer", "minimum": 1, "maximum": MAX_COVERAGE_DAYS,
                             "default": COVERAGE_DAYS}, "Days either side of the post's date.")],
                "responses": {"200": _json("Related stories.", "Related"), **_errors(400, 404, 503)}}},
            "/api/stats": {"get": {"summary": "What the index holds",
                                   "responses": {"200": _json("Index statistics.", "Stats"), **_errors(503)}}},
        },
        "components": {"schemas": SCHEMAS},
    }
