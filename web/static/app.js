// Instant search, suggestions as you type, keyboard navigation and broken-image hiding. The site works
// without this file.
(function () {
  "use strict";

  var DEBOUNCE_MS = 150;
  var form = document.querySelector("form[data-instant]");
  var input = form && form.querySelector("input[name=q]");
  var region = document.getElementById("results");
  var status = document.getElementById("search-status");

  // --- broken pictures: hide them (CSP forbids inline onerror handlers) -------------------------
  function hideIfBroken(img) {
    if (img.complete && img.naturalWidth === 0 && img.getAttribute("src")) img.classList.add("broken");
  }
  document.addEventListener("error", function (event) {
    var el = event.target;
    if (el && el.tagName === "IMG") el.classList.add("broken");
  }, true);
  function checkImages(root) {
    Array.prototype.forEach.call(root.querySelectorAll("img"), hideIfBroken);
  }
  checkImages(document);

  // --- instant search ------------------------------------------------------------------------
  var timer = null;
  var controller = null;
  var sequence = 0;
  var onHome = document.body.classList.contains("home");

  function formParams() {
    var params = new URLSearchParams();
    new FormData(form).forEach(function (value, key) {
      if (typeof value === "string" && value.trim() !== "") params.append(key, value.trim());
    });
    return params;
  }

  function hasSomethingToSearch(params) {
    return ["q", "source", "category", "date", "from", "to"].some(function (k) { return params.has(k); });
  }

  // Parse the server-rendered fragment in an inert document and move its nodes in.
  // The fragment comes from our own autoescaped template; refuse anything script-like anyway.
  function swapIn(html) {
    var doc = new DOMParser().parseFromString(html, "text/html");
    var unsafe = doc.querySelector("script, iframe, object, embed, [onerror], [onload], [onclick]");
    if (unsafe) throw new Error("unexpected markup in results");
    region.replaceChildren.apply(region, Array.prototype.slice.call(doc.body.childNodes));
    checkImages(region);
    var summary = region.querySelector("[data-status]");
    announce(summary ? summary.dataset.status : "");
  }

  // Screen readers hear a few words in the status region ("找到 53 条结果"), never the whole results
  // region again after each keystroke. Other parts of the search box (suggestions) may say things here too.
  function announce(message) {
    if (status) status.textContent = message;
  }

  function showError(message) {
    var box = document.createElement("p");
    box.className = "instant-error";
    box.setAttribute("role", "alert");
    box.textContent = message;
    region.replaceChildren(box);
  }

  function clearResults() {
    if (controller) controller.abort();
    region.replaceChildren();
    announce("");
    document.body.classList.remove("searching");
    history.replaceState(null, "", "/");
  }

  function run() {
    var params = formParams();
    if (!hasSomethingToSearch(params)) {
      if (onHome) clearResults();
      return;
    }
    if (controller) controller.abort();
    controller = new AbortController();
    var mine = ++sequence;
    var api = new URLSearchParams(params);
    api.set("format", "html");
    form.classList.add("loading");
    fetch("/api/search?" + api.toString(), { signal: controller.signal, headers: { Accept: "application/json" } })
      .then(function (response) {
        return response.json().then(function (data) { return { ok: response.ok, data: data }; });
      })
      .then(function (result) {
        if (mine !== sequence) return;  // a newer request is under way
        form.classList.remove("loading");
        if (result.ok) swapIn(result.data.html);
        else showError((result.data.error && result.data.error.message) || "搜索出错了");
        document.body.classList.add("searching");
        var url = "/search?" + params.toString();
        if (onHome && !history.state) history.pushState({ instant: true }, "", url);
        else history.replaceState({ instant: true }, "", url);
        var q = params.get("q");
        document.title = (q || "浏览") + " - " + document.title.split(" - ").pop();
      })
      .catch(function (error) {
        if (error.name === "AbortError" || mine !== sequence) return;
        form.classList.remove("loading");
        showError("网络错误，请稍后再试。");
      });
  }

  if (form && input && region) {
    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(run, DEBOUNCE_MS);
    });
    window.addEventListener("popstate", function () { location.reload(); });
  }

  // --- suggestions as you type: /api/suggest completes the last word (text, pinyin or initials) -----
  var SUGGEST_MS = 80;
  var list = document.getElementById("q-suggestions");
  var suggestTimer = null;
  var suggestController = null;
  var active = -1;

  function options() {
    return list ? Array.prototype.slice.call(list.querySelectorAll("[role=option]")) : [];
  }

  function isOpen() {
    return !!list && !list.hidden;
  }

  function closeSuggestions() {
    if (!list) return;
    list.hidden = true;
    list.replaceChildren();
    active = -1;
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
  }

  function highlight(index) {
    var items = options();
    active = index;
    items.forEach(function (item, i) { item.setAttribute("aria-selected", i === index ? "true" : "false"); });
    if (index >= 0) input.setAttribute("aria-activedescendant", items[index].id);
    else input.removeAttribute("aria-activedescendant");
  }

  function pick(text) {
    input.value = text;
    closeSuggestions();
    clearTimeout(timer);
    if (form.requestSubmit) form.requestSubmit();
    else form.submit();
  }

  function showSuggestions(typed, suggestions) {
    if (input.value !== typed || document.activeElement !== input) return;
    list.replaceChildren();
    active = -1;
    suggestions.forEach(function (text, i) {
      var item = document.createElement("li");
      item.id = "q-suggestion-" + i;
      item.setAttribute("role", "option");
      item.setAttribute("aria-selected", "false");
      item.textContent = text;
      item.addEventListener("mousedown", function (event) { event.preventDefault(); pick(text); });
      list.appendChild(item);
    });
    list.hidden = suggestions.length === 0;
    input.setAttribute("aria-expanded", suggestions.length ? "true" : "false");
  }

  function suggest() {
    var typed = input.value;
    if (!typed.trim()) { closeSuggestions(); return; }
    if (suggestController) suggestController.abort();
    suggestController = new AbortController();
    fetch("/api/suggest?q=" + encodeURIComponent(typed), { signal: suggestController.signal })
      .then(function (response) { return response.ok ? response.json() : { suggestions: [] }; })
      .then(function (data) { showSuggestions(typed, data.suggestions || []); })
      .catch(function () { /* aborted by newer typing, or offline: no suggestions */ });
  }

  if (input && list) {
    input.addEventListener("input", function () {
      clearTimeout(suggestTimer);
      suggestTimer = setTimeout(suggest, SUGGEST_MS);
    });
    input.addEventListener("blur", closeSuggestions);
    input.addEventListener("keydown", function (event) {
      if (!isOpen() || event.isComposing) return;
      var items = options();
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        event.stopPropagation();  // the page's own arrow keys move through results
        var step = event.key === "ArrowDown" ? 1 : -1;
        highlight(Math.max(-1, Math.min(items.length - 1, active + step)));
      } else if (event.key === "Enter" && active >= 0) {
        event.preventDefault();
        pick(items[active].textContent);
      } else if (event.key === "Escape") {
        event.stopPropagation();
        closeSuggestions();
      }
    });
  }

  // --- keyboard --------------------------------------------------------------------------------
  function resultLinks() {
    return Array.prototype.slice.call(document.querySelectorAll(".hit-title a"));
  }

  function select(links, index) {
    links.forEach(function (link, i) {
      link.closest(".hit").classList.toggle("selected", i === index);
    });
    if (index < 0) {
      input.focus();
      return;
    }
    links[index].focus();
    links[index].scrollIntoView({ block: "nearest" });
  }

  document.addEventListener("keydown", function (event) {
    if (!input || event.altKey || event.ctrlKey || event.metaKey || event.isComposing) return;
    var target = event.target;
    var typing = target.tagName === "INPUT" || target.tagName === "TEXTAREA" || target.isContentEditable;
    if (event.key === "/" && !typing) {
      event.preventDefault();
      input.focus();
      input.select();
      return;
    }
    if (event.key !== "ArrowDown" && event.key !== "ArrowUp" && event.key !== "Escape") return;
    if (typing && target !== input) return;
    var links = resultLinks();
    var current = links.indexOf(document.activeElement);
    if (event.key === "Escape") {
      if (current >= 0) { event.preventDefault(); select(links, -1); }
      return;
    }
    if (!links.length || (current < 0 && target !== input)) return;
    event.preventDefault();
    var next = event.key === "ArrowDown" ? Math.min(current + 1, links.length - 1) : current - 1;
    select(links, next);
  });
})();
