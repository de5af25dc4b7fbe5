/* news-search widget: a search box with instant results for another site's pages (a Hexo blog).
 *
 *   <script src="https://search.example.com/widget.js" data-endpoint="https://search.example.com"
 *           data-placeholder="搜索文章" defer></script>
 *
 * Optional attributes: data-target="#css-selector" (draw inside that element instead of where the tag
 * is), data-limit (results shown, 1 to 10, default 6), data-theme="light" or "dark" (default: the
 * reader's system setting; a theme may also set data-theme on the <news-search-widget> element later),
 * data-label (the box's accessible name, default the placeholder).
 *
 * Everything is drawn in a shadow root, so the page's styles do not reach in and ours do not leak out.
 * The results panel is shown in the top layer (a popover), above everything the theme draws and out of
 * reach of its overflow, z-index and transforms; it is placed under the box and follows it as the page
 * scrolls or resizes. Results are inserted as text: the only markup taken from the server is <mark>
 * around matches. Each result is an option of a listbox (the box points at the chosen one with
 * aria-activedescendant); choosing one, by Enter or a click, opens the post. Completions of what is
 * typed (/api/suggest: text, pinyin or initials) follow the results as options too; choosing one
 * searches it. When the server read the query otherwise (pinyin, a typo, date words as text), a note
 * above the results says so, as the results page does.
 */
(function () {
  "use strict";

  var script = document.currentScript;
  if (!script) return;  // only a classic <script> tag says where it is
  var scriptUrl = new URL(script.src, location.href);
  var endpoint = new URL(script.dataset.endpoint || scriptUrl.origin, location.href).href.replace(/\/+$/, "");
  var settings = {
    placeholder: script.dataset.placeholder || "搜索",
    label: script.dataset.label || script.dataset.placeholder || "搜索",
    limit: Math.min(Math.max(parseInt(script.dataset.limit, 10) || 6, 1), 10),
    theme: script.dataset.theme || "",
    target: script.dataset.target || ""
  };
  var DEBOUNCE_MS = 180;
  var GAP = 8;  // px between the box and the panel, and between the panel and the window's edges
  var DATE = new Intl.DateTimeFormat("zh-CN", { year: "numeric", month: "long", day: "numeric",
                                                timeZone: "Asia/Shanghai" });
  var ENTITIES = { amp: "&", lt: "<", gt: ">", quot: "\"", apos: "'", nbsp: "\u00a0" };
  var TOP_LAYER = typeof HTMLElement.prototype.showPopover === "function";

  // --- building nodes: text only, never HTML ---------------------------------------------------
  function element(tag, attributes, children) {
    var node = document.createElement(tag);
    Object.keys(attributes || {}).forEach(function (name) { node.setAttribute(name, attributes[name]); });
    (children || []).forEach(function (child) {
      if (child !== null) node.append(child);  // append() inserts a string as a text node
    });
    return node;
  }

  function unescapeHtml(text) {
    return text.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, function (entity, name) {
      if (name.charAt(0) === "#") {
        var hex = name.charAt(1).toLowerCase() === "x";
        var code = parseInt(name.slice(hex ? 2 : 1), hex ? 16 : 10);
        return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : entity;
      }
      var known = Object.prototype.hasOwnProperty.call(ENTITIES, name.toLowerCase());
      return known ? ENTITIES[name.toLowerCase()] : entity;
    });
  }

  // The API's title_html and snippet are escaped text with <mark> around matches: turn them into
  // text nodes and <mark> elements. Whatever else the string holds stays text.
  function marked(html) {
    var fragment = document.createDocumentFragment();
    var parent = fragment;
    html.split(/(<\/?mark>)/).forEach(function (piece) {
      if (piece === "<mark>") parent = fragment.appendChild(document.createElement("mark"));
      else if (piece === "</mark>") parent = fragment;
      else if (piece) parent.append(unescapeHtml(piece));
    });
    return fragment;
  }

  // A request that fails without an answer is either a server out of reach or one that does not allow
  // this page's origin (CORS): an opaque request, which CORS does not guard, tells them apart.
  function explainFailure() {
    fetch(endpoint + "/api/stats", { mode: "no-cors", credentials: "omit", cache: "no-store" }).then(function () {
      console.error("news-search widget: the search server " + endpoint + " answers, but does not allow pages of " +
                    location.origin + " to read its results (CORS). Start it with --allow-origin " +
                    location.origin + " (or add it to NEWS_SEARCH_ALLOW_ORIGINS).");
    }, function () {
      console.warn("news-search widget: cannot reach the search server " + endpoint + ".");
    });
  }

  // --- the widget --------------------------------------------------------------------------------
  function draw(host) {
    var root = host.attachShadow({ mode: "open" });
    var input = element("input", {
      id: "q", type: "search", role: "combobox", "aria-autocomplete": "list", "aria-expanded": "false",
      "aria-controls": "results", autocomplete: "off", spellcheck: "false", enterkeyhint: "search",
      placeholder: settings.placeholder
    });
    var list = element("ul", { id: "results", role: "listbox", "aria-label": "搜索结果" });
    var message = element("p", { class: "message", hidden: "" });
    var note = element("p", { class: "note", hidden: "" });  // how the server read the query
    // tabindex=-1: a scrolling panel is not a stop of its own when Tab leaves the box
    var panel = element("div", { class: "panel", tabindex: "-1" }, [message, note, list]);
    if (TOP_LAYER) panel.setAttribute("popover", "manual");
    else panel.hidden = true;
    var status = element("p", { class: "visually-hidden", role: "status" });
    var field = element("div", { class: "field" }, [element("span", { class: "icon", "aria-hidden": "true" }), input]);
    var box = element("div", { class: "box", role: "search", hidden: "" }, [
      element("label", { class: "visually-hidden", for: "q" }, [settings.label]), field, panel, status
    ]);
    var stylesheet = element("link", { rel: "stylesheet", href: new URL("widget.css", scriptUrl).href });
    var show = function () { box.hidden = false; };  // unstyled (stylesheet blocked) beats invisible
    stylesheet.addEventListener("load", show);
    stylesheet.addEventListener("error", show);
    root.append(stylesheet, box);

    var timer = null, controller = null, sequence = 0, active = -1, query = "", frame = 0;

    function items() { return Array.prototype.slice.call(list.querySelectorAll("[role=option]")); }

    function isOpen() { return TOP_LAYER ? panel.matches(":popover-open") : !panel.hidden; }

    // Under the box, as wide as it (at least 28em, at most the window), inside the window.
    function place() {
      frame = 0;
      if (!isOpen()) return;
      var rect = field.getBoundingClientRect();
      var view = document.documentElement.clientWidth;
      var width = Math.min(Math.max(rect.width, 28 * 16), view - 2 * GAP);
      var left = Math.min(Math.max(rect.left, GAP), view - GAP - width);
      var top = rect.bottom + GAP;
      panel.style.left = left + "px";
      panel.style.top = top + "px";
      panel.style.width = width + "px";
      panel.style.maxHeight = Math.max(Math.min(window.innerHeight - top - GAP, 640), 160) + "px";
    }

    function follow() { if (!frame) frame = requestAnimationFrame(place); }

    function open(shouldOpen) {
      if (shouldOpen && !isOpen()) {
        if (TOP_LAYER) panel.showPopover();
        else panel.hidden = false;
        window.addEventListener("scroll", follow, { capture: true, passive: true });
        window.addEventListener("resize", follow, { passive: true });
      } else if (!shouldOpen && isOpen()) {
        if (TOP_LAYER) panel.hidePopover();
        else panel.hidden = true;
        window.removeEventListener("scroll", follow, { capture: true });
        window.removeEventListener("resize", follow);
      }
      input.setAttribute("aria-expanded", String(shouldOpen && items().length > 0));
      if (shouldOpen) place();
      else select(-1);
    }

    function select(index) {
      var options = items();
      active = index;
      options.forEach(function (option, i) { option.setAttribute("aria-selected", String(i === index)); });
      if (index >= 0) {
        input.setAttribute("aria-activedescendant", options[index].id);
        options[index].scrollIntoView({ block: "nearest" });
      } else {
        input.removeAttribute("aria-activedescendant");
      }
    }

    function resultsPage(q) { return endpoint + "/search?q=" + encodeURIComponent(q); }

    function hitUrl(hit, q) {
      if (hit.url && /^https?:\/\//i.test(hit.url)) return hit.url;  // the post on the blog
      var path = hit.path.split("/").map(encodeURIComponent).join("/");
      return endpoint + "/post/" + path + "?q=" + encodeURIComponent(q);
    }

    function hitOption(hit, i, q) {
      var meta = [hit.partial ? "部分匹配" : "", hit.source, hit.date ? DATE.format(new Date(hit.date)) : ""]
        .filter(Boolean).join(" · ");
      var option = element("li", { role: "option", id: "option-" + i, class: "hit", "aria-selected": "false" }, [
        element("span", { class: "title" }, [marked(hit.title_html)]),
        meta ? element("span", { class: "meta" }, [meta]) : null,
        hit.snippet ? element("span", { class: "snippet" }, [marked(hit.snippet)]) : null
      ]);
      option.dataset.href = hitUrl(hit, q);
      return option;
    }

    function moreOption(q, total) {
      var option = element("li", { role: "option", id: "option-more", class: "more", "aria-selected": "false" },
                           ["查看全部 " + total.toLocaleString("zh-CN") + " 条结果"]);
      option.dataset.href = resultsPage(q);
      return option;
    }

    function suggestionOption(text, i) {
      var option = element("li", { role: "option", id: "suggestion-" + i, class: "suggestion",
                                   "aria-selected": "false" }, [element("span", { class: "hint" }, ["搜索"]), text]);
      option.dataset.suggest = text;
      return option;
    }

    // What the server searched instead of the typed words, if anything (SearchResults.reading).
    function readingNote(q, reading) {
      if (!reading) return "";
      if (reading.kind === "pinyin") return "拼音：" + reading.query;
      if (reading.kind === "date_text") return "日期词按文字搜索：" + reading.query;
      return "已显示「" + reading.query + "」的结果";
    }

    function showMessage(text, isError) {
      list.replaceChildren();
      note.hidden = true;
      message.textContent = text;
      message.hidden = false;
      message.classList.toggle("error", Boolean(isError));
      status.textContent = text;
      open(true);
    }

    function showResults(q, data, suggestions) {
      var options = data.hits.map(function (hit, i) { return hitOption(hit, i, q); });
      suggestions.filter(function (text) { return text !== q; }).forEach(function (text, i) {
        options.push(suggestionOption(text, i));
      });
      if (data.total > 0) options.push(moreOption(q, data.total));
      list.replaceChildren.apply(list, options);
      message.hidden = true;
      note.textContent = readingNote(q, data.reading);
      note.hidden = !note.textContent;
      if (!options.length) {
        showMessage("没有找到与“" + q + "”相关的文章。");
        return;
      }
      status.textContent = "找到 " + data.total.toLocaleString("zh-CN") + " 条结果";
      open(true);
      select(-1);
    }

    function run() {
      var q = input.value.trim();
      if (q === query && isOpen()) return;
      query = q;
      if (controller) controller.abort();
      if (!q) {
        box.classList.remove("loading");
        list.replaceChildren();
        status.textContent = "";
        open(false);
        return;
      }
      controller = new AbortController();
      var mine = ++sequence;
      var params = new URLSearchParams({ q: q, per_page: String(settings.limit) });
      box.classList.add("loading");
      var request = { signal: controller.signal, credentials: "omit", headers: { Accept: "application/json" } };
      var completions = fetch(endpoint + "/api/suggest?" + new URLSearchParams({ q: q }).toString(), request)
        .then(function (response) { return response.ok ? response.json() : { suggestions: [] }; })
        .then(function (data) { return data.suggestions || []; });
      fetch(endpoint + "/api/search?" + params.toString(), request)
        .then(function (response) {
          return response.json().then(function (data) { return { ok: response.ok, data: data }; });
        })
        .then(function (result) {
          return completions.catch(function () { return []; }).then(function (suggestions) {
            result.suggestions = suggestions;
            return result;
          });
        })
        .then(function (result) {
          if (mine !== sequence) return;  // a newer search is under way
          box.classList.remove("loading");
          if (result.ok) showResults(q, result.data, result.suggestions);
          else showMessage((result.data.error && result.data.error.message) || "搜索出错了。", true);
        })
        .catch(function (error) {
          if (error.name === "AbortError" || mine !== sequence) return;
          box.classList.remove("loading");
          showMessage("搜索服务暂时无法访问，请稍后再试。", true);
          if (error instanceof TypeError) explainFailure();  // no answer: offline, or this site not allowed
        });
    }

    function schedule() {
      clearTimeout(timer);
      timer = setTimeout(run, DEBOUNCE_MS);
    }

    function go(option, newTab) {
      if (option && option.dataset.suggest) {  // a completion: search it here
        input.value = option.dataset.suggest;
        run();
        return;
      }
      var href = option ? option.dataset.href : resultsPage(input.value.trim());
      if (newTab) window.open(href, "_blank", "noopener");
      else window.location.assign(href);
    }

    input.addEventListener("input", function (event) {
      if (!event.isComposing) schedule();  // wait until a pinyin (IME) word is chosen
    });
    input.addEventListener("compositionend", schedule);
    input.addEventListener("focus", function () {
      if (input.value.trim() && (list.childElementCount || !message.hidden)) open(true);
    });
    input.addEventListener("keydown", function (event) {
      if (event.isComposing || event.keyCode === 229) return;
      var count = items().length;
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        if (!count) return;
        event.preventDefault();
        if (!isOpen()) open(true);
        var down = event.key === "ArrowDown";
        select(down ? Math.min(active + 1, count - 1) : Math.max(active - 1, -1));
      } else if (event.key === "Enter") {
        if (!input.value.trim()) return;
        event.preventDefault();
        go(isOpen() && active >= 0 ? items()[active] : null, event.ctrlKey || event.metaKey);
      } else if (event.key === "Escape") {
        if (isOpen()) {
          event.preventDefault();
          open(false);
        }
      } else if (event.key === "Tab") {
        open(false);  // the focus moves on to the page's next stop
      }
    });
    // Keep the focus in the box while a result is clicked; open the result on release.
    panel.addEventListener("mousedown", function (event) { event.preventDefault(); });
    list.addEventListener("click", function (event) {
      var option = event.target.closest("[role=option]");
      if (option) go(option, event.ctrlKey || event.metaKey || event.shiftKey);
    });
    list.addEventListener("auxclick", function (event) {
      var option = event.target.closest("[role=option]");
      if (option && event.button === 1) go(option, true);
    });
    list.addEventListener("mousemove", function (event) {
      var option = event.target.closest("[role=option]");
      if (option && option.getAttribute("aria-selected") !== "true") select(items().indexOf(option));
    });
    input.addEventListener("blur", function () { open(false); });
  }

  function mount() {
    var container = settings.target ? document.querySelector(settings.target) : null;
    if (settings.target && !container) {
      console.warn("news-search widget: no element matches data-target " + settings.target +
                   "; drawing the box where the script tag is.");
    }
    var host = document.createElement("news-search-widget");
    if (settings.theme) host.setAttribute("data-theme", settings.theme);
    if (container) container.append(host);
    else script.before(host);
    draw(host);
  }

  if (settings.target && document.readyState === "loading") document.addEventListener("DOMContentLoaded", mount);
  else mount();
})();
