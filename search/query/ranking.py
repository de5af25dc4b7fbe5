"""How both backends rank: BM25 parameters, field weights, bonuses and the names of the ranking features.

:mod:`search.query.syntax` plans a query's scores with these numbers; the local index
(:mod:`search.local.searcher`, :mod:`search.local.evaluate`) and searchd's ranker
expression (:mod:`search.sphinx.ranking`) both compute them, so one change
here moves both.
"""

#: BM25 parameters. News articles repeat their key words: a high K1 lets term
#: frequency keep counting, and a mild B does not punish long articles much.
BM25_B = 0.5
BM25_K1 = 3.5
#: Weight of the title field's own BM25 score. Title words are also indexed in
#: the body field, so this is an extra on top (tuned on ../shared/eval: the
#: body-keyword "known item" queries suffer when titles dominate).
TITLE_WEIGHT = 0.2
#: Score bonus when a multi-word term occurs contiguously (adjacent and in order).
ADJACENT_BONUS = 20.0
#: Score bonus when a term occurs in the title.
TITLE_BONUS = 1.0
#: Score bonus when the title holds every required unit of the query (of two characters or more).
TITLE_ALL_BONUS = 2.0
#: Score bonus when the whole query occurs contiguously.
WHOLE_QUERY_BONUS = 3.0
#: Weight of the recall field's own BM25 score (a tie-breaker next to the word fields).
RECALL_WEIGHT = 0.05
#: A synonym's scores, against the word typed: a post saying what the reader typed ranks a little higher.
SYNONYM_WEIGHT = 0.6

# Names of the ranking features (see search.local.explain); word scores are named there, by field.
SUBSTRING, PHRASE, TITLE_MATCH, TITLE_ALL, WHOLE_QUERY, SYNONYMS = (
    "substring", "phrase", "title match", "title holds the query", "whole query", "synonyms")
