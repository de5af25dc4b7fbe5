'use strict';
// The <script> tag that draws news-search's widget, from the blog's `news_search` settings.

// Where the search box goes in the themes it was tested in (data-target), by Hexo theme name, and the
// size and margins that fit it to that place (a rule for the <news-search-widget> element).
const THEME_SLOTS = {
  landscape: { target: '#sub-nav', style: 'float: left; width: 14em; margin: 13px 6px 0 0;' },
  next: { target: '.header', style: 'max-width: 20em; margin: 0 auto 18px; padding: 0 16px;' },
  butterfly: { target: '#menus', style: 'display: inline-block; width: 15em; vertical-align: middle;' },
  fluid: { target: '#navbar .container', style: 'width: 15em; max-width: 100%;' }
};
const THEMES = ['light', 'dark'];

function escapeAttribute(value) {
  return String(value).replace(/[&<>"']/g, c => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
}

// Returns { tag, style, problems }: the tag to inject (null when the settings cannot make one), the rule
// fitting the box to the theme's slot (null unless the slot is the default one), and what is wrong.
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
  const slot = options.target === undefined ? THEME_SLOTS[hexoTheme] : undefined;
  const target = slot ? slot.target : options.target;
  if (target) attributes['data-target'] = target;
  if (options.limit !== undefined) attributes['data-limit'] = options.limit;
  if (options.theme !== undefined && options.theme !== 'auto') {
    if (THEMES.includes(options.theme)) attributes['data-theme'] = options.theme;
    else problems.push(`news_search.theme must be light, dark or auto, not ${JSON.stringify(options.theme)}`);
  }
  const html = Object.entries(attributes).map(([name, value]) => `${name}="${escapeAttribute(value)}"`).join(' ');
  const style = slot ? `<style>${slot.target} > news-search-widget { ${slot.style} }</style>` : null;
  return { tag: `<script ${html} defer></script>`, style, problems };
}

module.exports = { widgetTag, THEME_SLOTS };
