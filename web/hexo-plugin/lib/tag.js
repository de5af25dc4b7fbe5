'use strict';
// The <script> tag that draws news-search's widget, from the blog's `news_search` settings.

// Where the search box goes in the themes it was tested in (data-target), by Hexo theme name.
const THEME_TARGETS = {
  landscape: '#sub-nav',
  next: '.site-brand-container',
  butterfly: '#menus',
  fluid: '#navbar .container'
};
const THEMES = ['light', 'dark'];

function escapeAttribute(value) {
  return String(value).replace(/[&<>"']/g, c => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
}

// Returns { tag, problems }: the tag to inject (null when the settings cannot make one) and what is wrong.
function widgetTag(settings, hexoTheme) {
  const problems = [];
  const options = settings || {};
  let endpoint = null;
  try {
    endpoint = new URL(String(options.endpoint || ''));
    if (!/^https?:$/.test(endpoint.protocol)) throw new TypeError('not http(s)');
  } catch (err) {
    problems.push(`news_search.endpoint must be the search server's address, e.g. https://search.example.com ` +
                  `(got ${JSON.stringify(options.endpoint === undefined ? null : options.endpoint)})`);
    return { tag: null, problems };
  }
  const base = endpoint.href.replace(/\/+$/, '');
  const attributes = { src: `${base}/widget.js`, 'data-endpoint': base };
  if (options.placeholder) attributes['data-placeholder'] = options.placeholder;
  if (options.label) attributes['data-label'] = options.label;
  const target = options.target === undefined ? THEME_TARGETS[hexoTheme] : options.target;
  if (target) attributes['data-target'] = target;
  if (options.limit !== undefined) attributes['data-limit'] = options.limit;
  if (options.theme !== undefined && options.theme !== 'auto') {
    if (THEMES.includes(options.theme)) attributes['data-theme'] = options.theme;
    else problems.push(`news_search.theme must be light, dark or auto, not ${JSON.stringify(options.theme)}`);
  }
  const html = Object.entries(attributes).map(([name, value]) => `${name}="${escapeAttribute(value)}"`).join(' ');
  return { tag: `<script ${html} defer></script>`, problems };
}

module.exports = { widgetTag, THEME_TARGETS };
