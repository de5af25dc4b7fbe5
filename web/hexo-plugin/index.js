/* global hexo */
'use strict';
// hexo-news-search: puts news-search's search box on every page of the blog.
//
//   # _config.yml
//   news_search:
//     endpoint: https://search.example.com   # the news-search server (required)
//     placeholder: 搜索文章                   # optional
//     target: '#sub-nav'                      # optional: a CSS selector; default: the theme's known slot
//     theme: auto                             # light, dark or auto (the reader's system setting)
//
// The tag is injected before </body> (Hexo's injector); the box is drawn inside `target`.

const { widgetTag } = require('./lib/tag');

const settings = hexo.config.news_search;
if (settings) {
  const { tag, style, problems } = widgetTag(settings, String(hexo.config.theme || ''));
  problems.forEach(problem => hexo.log.warn(`hexo-news-search: ${problem}`));
  if (tag) hexo.extend.injector.register('body_end', tag, 'default');
  if (tag && style) hexo.extend.injector.register('head_end', style, 'default');
} else {
  hexo.log.warn('hexo-news-search: add a news_search block with an endpoint to _config.yml to show the search box');
}
