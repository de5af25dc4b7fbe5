"""The corpus: Hexo posts on disk read into documents, the blog they belong to, their URLs, and their copies.

* :mod:`.posts`: a post's file -> :class:`~search.corpus.posts.Document` (front matter, visible text, HTML);
  a bad file is a reported problem, never the end of a build;
* :mod:`.blog`: a Hexo blog's folder and the ``_config.yml`` settings that decide its URLs;
* :mod:`.permalinks`: each post's public URL, computed as Hexo computes it;
* :mod:`.duplicates`: near-duplicate fingerprints: which posts are copies of one story.
"""
