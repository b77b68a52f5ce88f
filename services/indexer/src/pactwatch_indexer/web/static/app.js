// pactwatch dashboard: plain JavaScript, no build step, nothing loaded from another origin.
//
// Everything put into the page is built as DOM nodes with textContent: no text from the API
// or from an article is ever parsed as HTML (search snippets included: their <mark> tags are
// turned into elements, the rest into text).

const KINDS = [
  "memorandum", "agreement", "treaty", "declaration", "protocol",
  "accord", "charter", "roadmap", "action_plan", "other",
];
const STATUSES = ["signed", "planned", "past_reference", "cancelled"];
const KIND_COLOURS = {
  memorandum: "#4e79a7", agreement: "#f28e2b", treaty: "#e15759", declaration: "#59a14f",
  protocol: "#76b7b2", accord: "#b6992d", charter: "#b07aa1", roadmap: "#ff6f91",
  action_plan: "#9c755f", other: "#8c8c8c",
};
const REGISTRY_PAGE = 100;
const SEARCH_PAGE = 20;
const RECENT_ALERTS = 50;
const ALERTS_KEPT = 200;
const STREAM_SILENCE_MS = 60_000; // the server sends a comment every few seconds (4 s by default)
const EAGER_REPORTS = 30;
const KEY_STORAGE = "pactwatch.apiKey";

const $ = (id) => document.getElementById(id);
const state = {
  countries: new Map(),
  tab: "registry",
  params: new URLSearchParams(),
  registry: { rows: [], cursor: null, sort: null, query: "" },
  search: { cursor: null, query: "" },
  network: { data: null, query: "" },
  renderId: 0,
};

// --- DOM building -----------------------------------------------------------------------

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  appendAll(el, children);
  return el;
}

function setAttrs(el, attrs) {
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") el.setAttribute("class", value);
    else if (name === "dataset") Object.assign(el.dataset, value);
    else if (name === "style") for (const [k, v] of Object.entries(value)) el.style.setProperty(k, v);
    else if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else el.setAttribute(name, value === true ? "" : String(value));
  }
}

function appendAll(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child)); // strings become text nodes
  }
}

// replaceChildren would turn an array into text: this flattens like h() does
function fill(el, ...children) {
  el.replaceChildren();
  appendAll(el, children);
}

function svg(tag, attrs, ...children) {
  const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
  setAttrs(el, attrs);
  appendAll(el, children);
  return el;
}

function safeUrl(url) {
  // only web links: an article URL is data, never a javascript: or data: link
  try {
    const parsed = new URL(url);
    return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
  } catch {
    return null;
  }
}

function externalLink(url, text) {
  const href = url && safeUrl(url);
  return href ? h("a", { href, target: "_blank", rel: "noopener noreferrer" }, text) : text;
}

const agreementHref = (key) => `#/agreements/${encodeURIComponent(key)}`;
const articleHref = (id) => `#/articles/${encodeURIComponent(id)}`;
const kindLabel = (kind) => kind.replace("_", " ");
const statusLabel = (status) => status.replace("_", " ");
const percent = (value) => `${Math.round(Number(value) * 100)}%`;
const countryName = (code) => state.countries.get(code) || code;

const timeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
// the reader's local day as YYYY-MM-DD, like the signing dates beside it
const dayFormat = { format: (date) => [date.getFullYear(), date.getMonth() + 1, date.getDate()]
  .map((n, i) => String(n).padStart(i ? 2 : 4, "0")).join("-") };

// a timestamp in the reader's time zone, the exact UTC time on hover
function moment(iso, format = timeFormat) {
  if (!iso) return "";
  const date = new Date(iso);
  return h("time", { datetime: iso, title: iso }, Number.isNaN(date.getTime()) ? iso : format.format(date));
}

function kindBadge(kind) {
  return h("span", { class: "badge kind", style: { "--kind": KIND_COLOURS[kind] || "#888" } }, kindLabel(kind));
}

function statusBadge(status) {
  return h("span", { class: `badge status-${status}` }, statusLabel(status));
}

function party(code, name) {
  if (!code) return h("span", { class: "party muted" }, "non-state party");
  const shown = name || countryName(code);
  return h("span", { class: "party", title: shown }, h("span", { class: "code" }, code), shown === code ? null : shown);
}

function partiesOf(agreement) {
  const out = [];
  agreement.parties.filter(Boolean).forEach((code, i) => {
    if (i) out.push(h("span", { class: "sep" }, "·"));
    out.push(party(code));
  });
  for (const name of agreement.counterparts || []) {
    if (out.length) out.push(h("span", { class: "sep" }, "·"));
    out.push(h("span", { class: "party" }, name));
  }
  return out;
}

function showError(message) {
  const box = $("view-error");
  box.textContent = message;
  box.hidden = !message;
}

// The API's snippets are HTML-escaped text with <mark> around the matches: rebuilt as nodes.
function snippetNodes(snippet) {
  const nodes = [];
  let marked = false;
  for (const part of snippet.split(/(<mark>|<\/mark>)/)) {
    if (part === "<mark>") marked = true;
    else if (part === "</mark>") marked = false;
    else if (part) {
      // the inverse of the API's escaping, which is &, < and > only (&amp; last)
      const text = part.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
      nodes.push(marked ? h("mark", null, text) : document.createTextNode(text));
    }
  }
  return nodes;
}

// --- the API, with the key when one is needed -----------------------------------------

class AuthRequired extends Error {}

function apiKey() {
  try {
    return localStorage.getItem(KEY_STORAGE) || "";
  } catch {
    return "";
  }
}

// The one place requests get their credentials (the alert stream uses it too).
function authHeaders() {
  const key = apiKey();
  return key ? { Authorization: `Bearer ${key}` } : {};
}

function apiUrl(path, params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params || {})) {
    for (const item of Array.isArray(value) ? value : [value]) {
      if (item !== null && item !== undefined && item !== "") search.append(name, String(item));
    }
  }
  const query = search.toString();
  return query ? `${path}?${query}` : path;
}

async function api(path, params) {
  let response;
  try {
    response = await fetch(apiUrl(path, params), { headers: { Accept: "application/json", ...authHeaders() } });
  } catch {
    throw new Error("pactwatch cannot be reached; check that the indexer is running.");
  }
  if (response.status === 401 || response.status === 403) {
    askForKey(response.status === 401 && !apiKey()
      ? "This pactwatch asks for an API key to read. Paste one below; it is kept in this browser only."
      : "The API key was refused. Paste a valid one below; it is kept in this browser only.");
    throw new AuthRequired("an API key is needed to read this pactwatch");
  }
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  if (!response.ok) {
    const why = body && body.error ? body.error : `HTTP ${response.status}`;
    throw Object.assign(new Error(why), { status: response.status });
  }
  return body;
}

function askForKey(message) {
  $("key-message").textContent = message;
  $("key-panel").hidden = false;
  $("key-input").focus();
}

function setupKeyPanel() {
  $("key-button").addEventListener("click", () => {
    askForKey(apiKey()
      ? "An API key is set in this browser. Paste another to replace it, or forget it."
      : "Reads are open here unless pactwatch asks for a key. Paste one to send it with every request.");
  });
  $("key-close").addEventListener("click", () => { $("key-panel").hidden = true; });
  $("key-forget").addEventListener("click", () => {
    localStorage.removeItem(KEY_STORAGE);
    $("key-input").value = "";
    $("key-panel").hidden = true;
    restart();
  });
  $("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const key = $("key-input").value.trim();
    if (!key) return;
    localStorage.setItem(KEY_STORAGE, key);
    $("key-input").value = "";
    $("key-panel").hidden = true;
    restart();
  });
}

function restart() {
  loadCountries();
  startFeed();
  render();
}

// --- live alerts ------------------------------------------------------------------------

const feed = { generation: 0, lastId: null, controller: null, retryMs: 3000, count: 0 };

function setLive(status, text) {
  $("live").dataset.state = status;
  $("live-text").textContent = text;
}

function alertCard(id, alert, fresh) {
  const [a, b] = alert.parties || [];
  const [nameA, nameB] = alert.party_names || [];
  const article = alert.article || {};
  const key = alert.key || "";
  return h("li", {
    class: fresh ? "alert fresh" : "alert",
    dataset: { id, key },
    style: { "--kind": KIND_COLOURS[alert.kind] || "#888" },
  },
  h("div", { class: "alert-top" },
    kindBadge(alert.kind || "other"),
    h("span", { class: `badge fresh-${alert.freshness}` },
      alert.freshness === "signed" ? "signed now" : "earlier signing, first reported")),
  h("a", { class: "alert-title", href: agreementHref(key) }, alert.title || "(untitled)"),
  h("div", { class: "alert-parties" }, party(a, nameA), h("span", { class: "sep" }, "⇄"), party(b, nameB)),
  h("div", { class: "alert-meta" },
    alert.signed_on ? `signed ${alert.signed_on}` : "date of signing not reported",
    ` · confidence ${percent(alert.confidence || 0)} · detected `, moment(alert.detected_at)),
  alert.evidence ? h("blockquote", { class: "alert-evidence", title: alert.evidence }, alert.evidence) : null,
  h("div", { class: "alert-links" },
    h("a", { href: agreementHref(key) }, "Evidence →"),
    article.url ? externalLink(article.url, article.source || "source article") : null));
}

function addAlert(id, alert, fresh) {
  const list = $("alerts");
  if (list.querySelector(`[data-id="${CSS.escape(id)}"]`)) return;
  const card = alertCard(id, alert, fresh);
  if (fresh) list.prepend(card);
  else list.append(card);
  while (list.children.length > ALERTS_KEPT) list.lastElementChild.remove();
  feed.count = list.children.length;
  $("alerts-empty").hidden = feed.count > 0;
  $("alert-count").textContent = feed.count ? `${feed.count} shown, newest first` : "";
  list.classList.toggle("overflowing", list.scrollHeight > list.clientHeight + 1);
  if (fresh) noteNewData();
}

function noteNewData() {
  // the next visit to the registry or the network reads them again
  state.registry.query = "";
  state.network.query = "";
  if (state.tab === "search" || $("explore").hidden) return;
  const note = $("filter-note");
  fill(note, "New alerts arrived since this view loaded. ",
    h("a", { href: "#", onclick: (event) => { event.preventDefault(); render(true); } }, "Refresh"));
}

async function startFeed() {
  const generation = ++feed.generation;
  if (feed.controller) feed.controller.abort();
  setLive("connecting", "connecting…");
  for (;;) {
    try {
      const recent = await api("/alerts/recent", { limit: RECENT_ALERTS });
      if (generation !== feed.generation) return;
      fill($("alerts"));
      for (const item of recent.alerts) addAlert(item.id, item.alert, false);
      $("alerts-empty").hidden = recent.alerts.length > 0;
      feed.lastId = recent.last_id;
      break;
    } catch (error) {
      if (generation !== feed.generation) return;
      if (error instanceof AuthRequired) {
        setLive("locked", "needs an API key");
        return;
      }
      setLive("reconnecting", "cannot reach the alerts; retrying…");
      await sleep(feed.retryMs);
    }
  }
  follow(generation);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Server-sent events read with fetch (not EventSource) so that the request carries the same
// Authorization header as every other; it resumes with Last-Event-ID like EventSource does.
async function follow(generation) {
  while (generation === feed.generation) {
    const controller = new AbortController();
    feed.controller = controller;
    let silence = null;
    const heard = () => {
      clearTimeout(silence);
      silence = setTimeout(() => controller.abort(), STREAM_SILENCE_MS);
    };
    try {
      const headers = { Accept: "text/event-stream", ...authHeaders() };
      if (feed.lastId) headers["Last-Event-ID"] = feed.lastId;
      heard();
      const response = await fetch("/alerts/stream", { headers, signal: controller.signal, cache: "no-store" });
      if (response.status === 401 || response.status === 403) {
        setLive("locked", "needs an API key");
        askForKey("The live alerts need an API key. Paste one below; it is kept in this browser only.");
        return;
      }
      if (response.status === 400 || response.status === 422) feed.lastId = null; // a resume id it cannot use
      if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
      setLive("live", "live");
      await readEvents(response.body, heard, (event) => {
        if (event.id) feed.lastId = event.id;
        if (!event.data) return;
        try {
          addAlert(event.id || `${Date.now()}`, JSON.parse(event.data), true);
        } catch {
          // one malformed event is skipped; the stream goes on
        }
      });
    } catch {
      // dropped, refused or silent for too long: reconnect below
    } finally {
      clearTimeout(silence);
    }
    if (generation !== feed.generation) return;
    setLive("reconnecting", "reconnecting…");
    await sleep(feed.retryMs);
  }
}

async function readEvents(body, heard, dispatch) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let event = { id: null, data: [] };
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    heard();
    buffer += value;
    for (;;) {
      const end = buffer.search(/\r\n|\r|\n/);
      if (end < 0 || (buffer[end] === "\r" && end === buffer.length - 1)) break; // wait for \n
      const line = buffer.slice(0, end);
      buffer = buffer.slice(end + (buffer.startsWith("\r\n", end) ? 2 : 1));
      if (line === "") {
        dispatch({ id: event.id, data: event.data.join("\n") });
        event = { id: null, data: [] };
        continue;
      }
      if (line.startsWith(":")) continue; // a heartbeat comment
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? "" : line.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (field === "data") event.data.push(value);
      else if (field === "id" && !value.includes("\0")) event.id = value;
      else if (field === "retry" && /^\d+$/.test(value)) feed.retryMs = Number(value);
    }
  }
}

// --- routes and filters -----------------------------------------------------------------

function parseHash() {
  const raw = location.hash.replace(/^#/, "") || "/registry";
  const cut = raw.indexOf("?");
  const path = cut < 0 ? raw : raw.slice(0, cut);
  const params = new URLSearchParams(cut < 0 ? "" : raw.slice(cut + 1));
  let parts;
  try {
    parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  } catch {
    parts = [];
  }
  return { parts, params };
}

function resolveCountry(value) {
  const text = (value || "").trim();
  if (!text) return "";
  const upper = text.toUpperCase();
  if (state.countries.has(upper)) return upper;
  // "turkiye" finds Türkiye: case and accents aside
  const fold = (value) => value.normalize("NFD").replace(/\p{M}/gu, "").toLocaleLowerCase();
  const wanted = fold(text);
  for (const [code, name] of state.countries) {
    if (fold(name) === wanted) return code;
  }
  if (!state.countries.size && /^[A-Za-z]{3}$/.test(text)) return upper; // names not loaded: let the API judge
  return null;
}

function readFilters() {
  const params = new URLSearchParams();
  for (const name of ["q", "party", "with", "kind", "status", "from", "to"]) {
    let value = $(`f-${name}`).value.trim();
    if ((name === "party" || name === "with") && value) {
      const code = resolveCountry(value);
      if (code === null) throw new Error(`${name === "party" ? "Party" : "With"}: "${value}" is not a country pactwatch knows (use a code like AZE or a name).`);
      value = code;
    }
    if (value) params.set(name, value);
  }
  if ($("f-originals").checked) params.set("originals", "1");
  return params;
}

function writeFilters(params) {
  $("f-q").value = params.get("q") || "";
  $("f-party").value = params.get("party") || "";
  $("f-with").value = params.get("with") || "";
  $("f-kind").value = params.get("kind") || "";
  $("f-status").value = params.get("status") || "";
  $("f-from").value = params.get("from") || "";
  $("f-to").value = params.get("to") || "";
  $("f-originals").checked = params.get("originals") === "1";
}

function go(tab, params) {
  const query = params.toString();
  const target = `#/${tab}${query ? `?${query}` : ""}`;
  if (location.hash === target) render(true);
  else location.hash = target;
}

function setupFilters() {
  $("f-kind").append(...KINDS.map((kind) => h("option", { value: kind }, kindLabel(kind))));
  $("f-status").append(...STATUSES.map((status) => h("option", { value: status }, statusLabel(status))));
  $("filters").addEventListener("submit", (event) => {
    event.preventDefault();
    try {
      showError("");
      go(state.tab, readFilters());
    } catch (error) {
      showError(error.message);
    }
  });
  $("f-clear").addEventListener("click", () => go(state.tab, new URLSearchParams()));
  for (const th of document.querySelectorAll("#registry th[data-sort]")) {
    th.querySelector("button").addEventListener("click", () => sortRegistry(th.dataset.sort));
  }
  $("registry-more").addEventListener("click", () => loadRegistry(true));
  $("search-more").addEventListener("click", () => loadSearch(true));
}

function partiesParam(params) {
  return [params.get("party"), params.get("with")].filter(Boolean);
}

function registryParams(params) {
  return {
    party: partiesParam(params),
    kind: params.get("kind"),
    status: params.get("status"),
    from: params.get("from"),
    to: params.get("to"),
  };
}

async function loadCountries() {
  try {
    const list = await api("/countries");
    state.countries = new Map(list.map((c) => [c.code, c.name]));
    fill($("country-list"), ...list.map((c) => h("option", { value: c.code, label: c.name })));
  } catch {
    // codes still work without names; the view that needs the API reports its error
  }
}

function render(force = false) {
  const { parts, params } = parseHash();
  const renderId = ++state.renderId;
  showError("");
  fill($("filter-note"));
  const page = parts[0] || "registry";
  const single = parts.length > 1 && (page === "agreements" || page === "articles") ? page : null;
  $("explore").hidden = Boolean(single);
  $("view-agreement").hidden = single !== "agreements";
  $("view-article").hidden = single !== "articles";
  if (single === "agreements") return showAgreement(parts.slice(1).join("/"), renderId);
  if (single === "articles") return showArticle(parts.slice(1).join("/"), renderId);
  const tab = ["registry", "search", "network"].includes(page) ? page : "registry";
  state.tab = tab;
  state.params = params;
  writeFilters(params);
  for (const link of document.querySelectorAll(".tabs a")) {
    link.href = `#/${link.dataset.tab}${params.toString() ? `?${params}` : ""}`;
    if (link.dataset.tab === tab) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  for (const field of document.querySelectorAll("#filters [data-only]")) field.hidden = field.dataset.only !== tab;
  for (const field of document.querySelectorAll("#filters [data-not]")) field.hidden = field.dataset.not === tab;
  $("f-from-label").textContent = tab === "search" ? "Published from" : "Signed from";
  if (tab === "search" && (params.get("kind") || params.get("status"))) {
    $("filter-note").textContent = "Kind and status filter the registry and the network; a search matches articles.";
  }
  for (const name of ["registry", "search", "network"]) $(`view-${name}`).hidden = name !== tab;
  document.title = `pactwatch · ${tab}`;
  if (tab === "registry") return loadRegistry(false, force);
  if (tab === "search") return loadSearch(false, force);
  return loadNetwork(force);
}

function failed(error) {
  if (error instanceof AuthRequired) showError("This pactwatch needs an API key to read: paste one in the panel above.");
  else showError(error.message || String(error));
}

// --- registry ---------------------------------------------------------------------------

const SORTS = {
  signed: { value: (a) => a.signed_on || "", first: "descending" },
  parties: { value: (a) => a.parties.map((p) => p || "~").join("-"), first: "ascending" },
  kind: { value: (a) => a.kind, first: "ascending" },
  title: { value: (a) => a.title.toLocaleLowerCase(), first: "ascending" },
  status: { value: (a) => a.status, first: "ascending" },
  confidence: { value: (a) => a.confidence, first: "descending" },
  mentions: { value: (a) => a.mentions, first: "descending" },
  sources: { value: (a) => a.sources, first: "descending" },
  seen: { value: (a) => a.first_seen_at, first: "descending" },
};

function sortRegistry(column) {
  const current = state.registry.sort;
  const direction = current && current.column === column
    ? (current.direction === "ascending" ? "descending" : "ascending")
    : SORTS[column].first;
  state.registry.sort = { column, direction };
  drawRegistry();
}

async function loadRegistry(more, force = false) {
  const query = JSON.stringify(registryParams(state.params));
  const registry = state.registry;
  if (!more && !force && query === registry.query && registry.rows.length) return drawRegistry();
  const renderId = state.renderId;
  try {
    const page = await api("/agreements", {
      ...registryParams(state.params), limit: REGISTRY_PAGE, cursor: more ? registry.cursor : null,
    });
    if (renderId !== state.renderId) return;
    registry.rows = more ? registry.rows.concat(page.agreements) : page.agreements;
    registry.cursor = page.next_cursor;
    registry.query = query;
    drawRegistry();
  } catch (error) {
    if (renderId === state.renderId) failed(error);
  }
}

function drawRegistry() {
  const { rows, sort, cursor } = state.registry;
  let shown = rows;
  if (sort) {
    const { value } = SORTS[sort.column];
    const sign = sort.direction === "ascending" ? 1 : -1;
    shown = rows.map((row, i) => [row, i]).sort(([a, i], [b, j]) => {
      const x = value(a);
      const y = value(b);
      const order = typeof x === "number" ? x - y : String(x).localeCompare(String(y));
      return order ? sign * order : i - j;
    }).map(([row]) => row);
  }
  for (const th of document.querySelectorAll("#registry th[data-sort]")) {
    if (sort && th.dataset.sort === sort.column) th.setAttribute("aria-sort", sort.direction);
    else th.removeAttribute("aria-sort");
  }
  fill($("registry").tBodies[0], ...shown.map((a) => h("tr", { dataset: { key: a.key } },
    h("td", { class: "nowrap" }, a.signed_on || h("span", { class: "muted" }, "undated")),
    h("td", null, partiesOf(a)),
    h("td", null, kindBadge(a.kind)),
    h("td", { class: "wide" }, h("a", { href: agreementHref(a.key) }, a.title || "(untitled)")),
    h("td", null, statusBadge(a.status)),
    h("td", { class: "num" }, percent(a.confidence)),
    h("td", { class: "num" }, String(a.mentions)),
    h("td", { class: "num" }, String(a.sources)),
    h("td", { class: "nowrap" }, moment(a.first_seen_at, dayFormat)))));
  $("registry-empty").hidden = rows.length > 0;
  $("registry-more").hidden = !cursor;
  $("registry-count").textContent = rows.length
    ? `${rows.length} agreement${rows.length === 1 ? "" : "s"}${cursor ? " loaded; more match" : ""}${sort && cursor ? " (sorting applies to those loaded)" : ""}`
    : "";
}

// --- search -----------------------------------------------------------------------------

async function loadSearch(more, force = false) {
  const params = state.params;
  const q = params.get("q") || "";
  const search = state.search;
  $("search-prompt").hidden = Boolean(q);
  if (!q) {
    fill($("hits"));
    $("search-more").hidden = true;
    $("f-q").focus();
    return;
  }
  const filters = {
    q,
    country: partiesParam(params),
    from: params.get("from"),
    to: params.get("to"),
    duplicates: params.get("originals") === "1" ? "false" : null,
  };
  const query = JSON.stringify(filters);
  if (!more && !force && query === search.query && $("hits").children.length) return;
  const renderId = state.renderId;
  try {
    const page = await api("/search", { ...filters, limit: SEARCH_PAGE, cursor: more ? search.cursor : null });
    if (renderId !== state.renderId) return;
    const items = page.hits.map((hit) => h("li", { class: "hit", dataset: { id: hit.id } },
      h("a", { class: "hit-title", href: articleHref(hit.id) }, hit.title || "(no headline)"),
      h("div", { class: "hit-meta" },
        [hit.source, hit.published, hit.countries.join(" ")].filter(Boolean).join(" · "),
        hit.duplicate_of ? [" · ", h("a", { href: articleHref(hit.duplicate_of) }, "copy of an earlier article")] : null,
        hit.url ? [" · ", externalLink(hit.url, "original")] : null),
      h("p", { class: "hit-snippet" }, snippetNodes(hit.snippet))));
    if (more) $("hits").append(...items);
    else fill($("hits"), ...items);
    search.cursor = page.next_cursor;
    search.query = query;
    $("search-more").hidden = !page.next_cursor;
    if (!$("hits").children.length) fill($("hits"), h("li", { class: "muted" }, "No article matches."));
  } catch (error) {
    if (renderId === state.renderId) failed(error);
  }
}

// --- network ----------------------------------------------------------------------------

async function loadNetwork(force = false) {
  const filters = registryParams(state.params);
  const query = JSON.stringify(filters);
  const network = state.network;
  drawLegend(network.data);
  if (!force && query === network.query && network.data) return;
  const renderId = state.renderId;
  try {
    const data = await api("/network", filters);
    if (renderId !== state.renderId) return;
    network.data = data;
    network.query = query;
    $("pair").hidden = true;
    drawNetwork(data);
    drawLegend(data);
  } catch (error) {
    if (renderId === state.renderId) failed(error);
  }
}

function drawLegend(data) {
  const present = new Set();
  for (const edge of data ? data.edges : []) for (const kind of Object.keys(edge.kinds)) present.add(kind);
  fill($("legend"), ...KINDS.map((kind) => h("li", {
    class: data && !present.has(kind) ? "absent" : null, style: { "--kind": KIND_COLOURS[kind] },
  }, h("span", { class: "swatch" }), kindLabel(kind))));
}

// The layout: each group of connected countries is laid out on its own (Fruchterman-Reingold,
// from a circle, so the same data always draws the same picture), then the groups are packed
// in rows to fill the frame. One spring length is one "unit" until the packing scales it.
function groupsOf(nodes, edges) {
  const index = new Map(nodes.map((node, i) => [node.code, i]));
  const parent = nodes.map((_, i) => i);
  const root = (i) => (parent[i] === i ? i : (parent[i] = root(parent[i])));
  for (const edge of edges) parent[root(index.get(edge.parties[0]))] = root(index.get(edge.parties[1]));
  const groups = new Map();
  nodes.forEach((_, i) => {
    const r = root(i);
    if (!groups.has(r)) groups.set(r, []);
    groups.get(r).push(i);
  });
  return [...groups.values()].sort((a, b) => b.length - a.length || a[0] - b[0]);
}

function springs(count, links) {
  if (count === 1) return [{ x: 0, y: 0 }];
  if (count === 2) return [{ x: 0, y: 0 }, { x: 1.3, y: 0 }];
  const pos = Array.from({ length: count }, (_, i) => {
    const angle = (2 * Math.PI * i) / count;
    const radius = Math.sqrt(count) / 2 + 0.5;
    return { x: radius * Math.cos(angle), y: radius * Math.sin(angle), dx: 0, dy: 0 };
  });
  let temperature = Math.sqrt(count) / 2;
  for (let step = 0; step < 300; step++) {
    for (const p of pos) { p.dx = 0; p.dy = 0; }
    for (let i = 0; i < count; i++) {
      for (let j = i + 1; j < count; j++) {
        let dx = pos[i].x - pos[j].x;
        let dy = pos[i].y - pos[j].y;
        let distance = Math.hypot(dx, dy);
        if (distance < 1e-3) { dx = 1e-3 * (j - i); dy = 1e-3; distance = Math.hypot(dx, dy); }
        const push = 1 / distance;
        pos[i].dx += (dx / distance) * push; pos[i].dy += (dy / distance) * push;
        pos[j].dx -= (dx / distance) * push; pos[j].dy -= (dy / distance) * push;
      }
    }
    for (const [a, b] of links) {
      const dx = pos[a].x - pos[b].x;
      const dy = pos[a].y - pos[b].y;
      const distance = Math.max(Math.hypot(dx, dy), 1e-3);
      const pull = distance * distance;
      pos[a].dx -= (dx / distance) * pull; pos[a].dy -= (dy / distance) * pull;
      pos[b].dx += (dx / distance) * pull; pos[b].dy += (dy / distance) * pull;
    }
    for (const p of pos) {
      const length = Math.max(Math.hypot(p.dx, p.dy), 1e-9);
      p.x += (p.dx / length) * Math.min(length, temperature);
      p.y += (p.dy / length) * Math.min(length, temperature);
    }
    temperature = Math.max(temperature * 0.98, 0.005);
  }
  return pos;
}

function layout(nodes, edges, width, height) {
  const index = new Map(nodes.map((node, i) => [node.code, i]));
  const pad = 1.1; // room around a group for the labels, in units
  const boxes = groupsOf(nodes, edges).map((members) => {
    const local = new Map(members.map((m, i) => [m, i]));
    const links = edges
      .map((e) => [local.get(index.get(e.parties[0])), local.get(index.get(e.parties[1]))])
      .filter(([a, b]) => a !== undefined && b !== undefined);
    let pos = springs(members.length, links);
    const span = (axis) => Math.max(...pos.map((p) => p[axis])) - Math.min(...pos.map((p) => p[axis]));
    if (span("y") > span("x")) pos = pos.map((p) => ({ x: p.y, y: p.x })); // lie down: the frame is wide
    const minX = Math.min(...pos.map((p) => p.x));
    const minY = Math.min(...pos.map((p) => p.y));
    return {
      members,
      pos: pos.map((p) => ({ x: p.x - minX, y: p.y - minY })),
      w: span("x") + pad,
      h: span("y") + pad,
    };
  });
  // shelf packing: try each row width the groups allow and keep the one drawn largest
  let best = null;
  let sum = 0;
  for (const box of boxes) {
    sum += box.w;
    const rowWidth = Math.max(sum, ...boxes.map((b) => b.w));
    let [x, y, rowHeight, widest] = [0, 0, 0, 0];
    const placed = boxes.map((b) => {
      if (x > 0 && x + b.w > rowWidth + 1e-9) { x = 0; y += rowHeight; rowHeight = 0; }
      const at = { x, y };
      x += b.w;
      widest = Math.max(widest, x);
      rowHeight = Math.max(rowHeight, b.h);
      return at;
    });
    const total = { w: widest, h: y + rowHeight };
    const scale = Math.min((width - 40) / total.w, (height - 40) / total.h);
    if (!best || scale > best.scale) best = { scale, placed, total };
  }
  const scale = Math.min(best.scale, 170); // two countries alone need not span the frame
  const left = (width - best.total.w * scale) / 2;
  const top = (height - best.total.h * scale) / 2;
  const points = new Array(nodes.length);
  boxes.forEach((box, g) => {
    box.members.forEach((member, i) => {
      points[member] = {
        x: left + (best.placed[g].x + pad / 2 + box.pos[i].x) * scale,
        y: top + (best.placed[g].y + pad / 2 + box.pos[i].y) * scale,
      };
    });
  });
  return points;
}

function drawNetwork(data) {
  const frame = $("network");
  const [width, height] = [960, 600];
  fill(frame);
  if (!data.edges.length) {
    frame.append(svg("text", { x: width / 2, y: height / 2, "text-anchor": "middle", class: "empty-note", fill: "#5d6878" },
      "No agreement between countries matches these filters."));
    $("network-caption").textContent = "";
    return;
  }
  const points = layout(data.nodes, data.edges, width, height);
  const at = new Map(data.nodes.map((node, i) => [node.code, points[i]]));
  const focus = state.params.get("party");
  const edgeLayer = svg("g", { class: "edges" });
  for (const edge of data.edges) {
    const [a, b] = edge.parties;
    const [p, q] = [at.get(a), at.get(b)];
    const kind = Object.keys(edge.kinds)[0] || "other"; // the API lists the most common first
    const widthPx = Math.min(2 + Math.log2(edge.agreements) * 2.5, 14);
    const breakdown = Object.entries(edge.kinds).map(([k, n]) => `${kindLabel(k)} ${n}`).join(", ");
    const label = `${countryName(a)} – ${countryName(b)}: ${edge.agreements} agreement${edge.agreements === 1 ? "" : "s"} (${breakdown}); latest ${edge.latest}`;
    const dim = focus && a !== focus && b !== focus;
    const group = svg("g", {
      class: dim ? "edge-group dim" : "edge-group",
      dataset: { pair: `${a}-${b}` },
      tabindex: 0,
      role: "button",
      "aria-label": label,
      onclick: () => showPair(a, b, group),
      onkeydown: (event) => { if (event.key === "Enter" || event.key === " ") { event.preventDefault(); showPair(a, b, group); } },
    },
    svg("title", null, label),
    svg("line", { class: "edge", x1: p.x, y1: p.y, x2: q.x, y2: q.y, stroke: KIND_COLOURS[kind], "stroke-width": widthPx }),
    svg("line", { class: "edge-hit", x1: p.x, y1: p.y, x2: q.x, y2: q.y, "stroke-width": Math.max(widthPx + 10, 14) }));
    edgeLayer.append(group);
  }
  const nodeLayer = svg("g", { class: "nodes" });
  data.nodes.forEach((node, i) => {
    const { x, y } = points[i];
    const radius = Math.min(6 + Math.sqrt(node.agreements) * 2, 18);
    const below = y < height - 40;
    nodeLayer.append(svg("g", {
      class: node.code === focus ? "node focus" : "node",
      dataset: { code: node.code },
      transform: `translate(${x.toFixed(1)} ${y.toFixed(1)})`,
      onclick: () => {
        const params = new URLSearchParams(state.params);
        if (params.get("party") === node.code) params.delete("party");
        else params.set("party", node.code);
        params.delete("with");
        go("network", params);
      },
    },
    svg("title", null, `${node.name} (${node.code}): ${node.agreements} agreement${node.agreements === 1 ? "" : "s"} with other countries. Click to focus on it.`),
    svg("circle", { class: "node-hit", r: radius + 8 }), // easier to hit than the ring
    svg("circle", { class: "node-dot", r: radius }),
    svg("text", { y: below ? radius + 13 : -radius - 16, "text-anchor": "middle" }, node.code),
    svg("text", { class: "name", y: below ? radius + 25 : -radius - 4, "text-anchor": "middle" }, node.name)));
  });
  frame.append(edgeLayer, nodeLayer);
  const busiest = data.edges[0];
  $("network-caption").textContent = `${data.nodes.length} countries, ${data.edges.length} pair${data.edges.length === 1 ? "" : "s"}`
    + ` · the most agreements: ${countryName(busiest.parties[0])} – ${countryName(busiest.parties[1])}, ${busiest.agreements}`
    + (data.truncated ? ` (the ${data.edges.length} busiest of ${data.pairs} pairs shown)` : "")
    + (focus ? ` · focused on ${countryName(focus)}: click it again to see every country` : "");
}

async function showPair(a, b, group) {
  for (const g of document.querySelectorAll("#network .edge-group.selected")) g.classList.remove("selected");
  group.classList.add("selected");
  const box = $("pair");
  box.hidden = false;
  fill($("pair-title"), party(a), h("span", { class: "sep" }, "⇄"), party(b));
  fill($("pair-list"), h("li", { class: "muted" }, "Loading…"));
  const filters = registryParams(state.params);
  try {
    const page = await api("/agreements", { ...filters, party: [a, b], limit: REGISTRY_PAGE });
    fill($("pair-list"), ...page.agreements.map((g) => h("li", { dataset: { key: g.key } },
      h("span", { class: "muted" }, g.signed_on || "undated"), " ", kindBadge(g.kind), " ",
      h("a", { href: agreementHref(g.key) }, g.title || "(untitled)"), " ", statusBadge(g.status),
      h("span", { class: "muted" }, ` · ${g.mentions} report${g.mentions === 1 ? "" : "s"}`))));
    if (page.next_cursor) {
      const params = new URLSearchParams(state.params);
      params.set("party", a);
      params.set("with", b);
      $("pair-list").append(h("li", null, h("a", { href: `#/registry?${params}` }, "All of them in the registry →")));
    }
    box.scrollIntoView({ behavior: "smooth", block: "nearest" });
  } catch (error) {
    fill($("pair-list"), h("li", { class: "error" }, error.message));
  }
}

// --- an article's text with its evidence highlighted ----------------------------------

// Evidence offsets count Unicode code points in headline + blank line + text (the
// extractor's definition); JavaScript strings count UTF-16 units, hence Array.from.
function evidenceRanges(points, evidence) {
  const squash = (text) => text.replace(/[\s.]+/g, "");
  const ranges = [];
  for (const item of evidence) {
    const { start, end, sentence } = item;
    if (Number.isInteger(start) && Number.isInteger(end) && start >= 0 && start < end && end <= points.length
      && squash(points.slice(start, end).join("")) === squash(sentence)) {
      ranges.push([start, end]);
      continue;
    }
    // offsets that do not fit this text (it was cleaned of markup first): look for the sentence
    const wanted = sentence.trim().replace(/\.$/, "");
    const text = points.join("");
    const found = wanted ? text.indexOf(wanted) : -1;
    if (found >= 0) {
      const from = Array.from(text.slice(0, found)).length;
      ranges.push([from, from + Array.from(wanted).length]);
    }
  }
  // the highlight covers the words, not the line breaks around them
  const blank = (i) => /\s/.test(points[i]);
  return ranges.map(([start, end]) => {
    while (start < end && blank(start)) start++;
    while (end > start && blank(end - 1)) end--;
    return [start, end];
  }).filter(([start, end]) => start < end).sort((x, y) => x[0] - y[0]);
}

function articleText(article, evidence) {
  const title = (article.title || "").trim();
  const head = title ? `${title}\n\n` : "";
  const points = Array.from(head + article.text);
  const headLength = Array.from(head).length;
  const ranges = evidenceRanges(points, evidence);
  const cuts = new Set([0, headLength, points.length]);
  for (const [s, e] of ranges) { cuts.add(s); cuts.add(e); }
  const sorted = [...cuts].sort((x, y) => x - y);
  const box = h("div", { class: "article-text", tabindex: 0 });
  const headline = title ? h("span", { class: "headline" }) : null;
  if (headline) box.append(headline);
  for (let i = 0; i + 1 < sorted.length; i++) {
    const [from, to] = [sorted[i], sorted[i + 1]];
    if (from === to) continue;
    const text = points.slice(from, to).join("");
    const inside = ranges.some(([s, e]) => from >= s && to <= e);
    const node = inside ? h("mark", { class: "evidence" }, text) : document.createTextNode(text);
    (headline && from < headLength ? headline : box).append(node);
  }
  requestAnimationFrame(() => {
    // a long article opens at its evidence
    const mark = box.querySelector("mark");
    const top = mark ? mark.offsetTop : 0; // the box is positioned: offsets are within it
    if (mark && top + mark.offsetHeight > box.clientHeight) box.scrollTop = Math.max(top - box.clientHeight / 3, 0);
  });
  return { box, found: ranges.length > 0 };
}

function evidenceBlock(article, evidence) {
  const { box, found } = articleText(article, evidence);
  return [
    found || !evidence.length ? null
      : h("p", { class: "muted small" }, "The evidence sentence could not be located in the stored text of this article."),
    box,
  ];
}

function duplicatesList(duplicates) {
  if (!duplicates.length) return null;
  return h("details", { class: "copies" },
    h("summary", null, `${duplicates.length} cop${duplicates.length === 1 ? "y" : "ies"} of this article elsewhere`),
    h("ul", { class: "dupes" }, duplicates.map((d) => h("li", { dataset: { id: d.id } },
      h("a", { href: articleHref(d.id) }, d.title || "(no headline)"),
      h("span", { class: "muted" }, ` · ${[d.source, d.published].filter(Boolean).join(" · ")}`,
        d.method ? ` · same ${d.method === "near" ? "text, nearly" : d.method}` : "",
        d.similarity !== null && d.similarity !== undefined ? ` (${percent(d.similarity)} similar)` : ""),
      d.url ? [" · ", externalLink(d.url, "original")] : null))));
}

async function pool(items, size, work) {
  const queue = items.slice();
  const workers = Array.from({ length: Math.min(size, queue.length) }, async () => {
    while (queue.length) await work(queue.shift());
  });
  await Promise.all(workers);
}

// --- the agreement page -----------------------------------------------------------------

function fact(label, ...value) {
  return [h("dt", null, label), h("dd", null, ...value)];
}

async function showAgreement(key, renderId) {
  const view = $("view-agreement");
  fill(view, h("p", { class: "muted" }, "Loading the agreement…"));
  document.title = "pactwatch · agreement";
  let agreement;
  try {
    agreement = await api(`/agreements/${encodeURIComponent(key)}`);
  } catch (error) {
    if (renderId !== state.renderId) return;
    fill(view, backLink(), h("p", { class: "error" }, error instanceof AuthRequired
      ? "This pactwatch needs an API key to read: paste one in the panel above." : error.message));
    return;
  }
  if (renderId !== state.renderId) return;
  document.title = `pactwatch · ${agreement.title}`;
  const reports = [];
  const byArticle = new Map();
  for (const sighting of agreement.sightings) {
    let report = byArticle.get(sighting.article.id);
    if (!report) {
      report = { article: sighting.article, sightings: [] };
      byArticle.set(sighting.article.id, report);
      reports.push(report);
    }
    report.sightings.push(sighting);
  }
  const first = agreement.first_article;
  const evidenceText = h("div", { class: "first-evidence" }, h("p", { class: "muted" }, "Loading the article…"));
  fill(view,
    backLink(),
    h("div", { class: "alert-top" }, kindBadge(agreement.kind), statusBadge(agreement.status)),
    h("h2", null, agreement.title || "(untitled)"),
    h("div", { class: "alert-parties" }, partiesOf(agreement)),
    h("dl", { class: "facts" },
      fact("Parties", agreement.parties.map((p) => (p ? `${p} (${countryName(p)})` : "a non-state party")).join(", ")),
      fact("Other parties", agreement.counterparts.length ? agreement.counterparts.join(", ") : h("span", { class: "muted" }, "none")),
      fact("Kind", kindLabel(agreement.kind)),
      fact("Status", statusLabel(agreement.status)),
      fact("Signed on", agreement.signed_on || h("span", { class: "muted" }, "not reported")),
      fact("Signatories", agreement.signatories.length
        ? h("ul", { class: "signatories" }, agreement.signatories.map((s) => h("li", null,
          s.name, s.office ? `, ${s.office}` : "", s.country ? ` (${countryName(s.country)})` : "")))
        : h("span", { class: "muted" }, "not named")),
      fact("Confidence", `${percent(agreement.confidence)} (the highest of any report)`),
      fact("Reports", `${agreement.mentions} article${agreement.mentions === 1 ? "" : "s"} from ${agreement.sources} outlet${agreement.sources === 1 ? "" : "s"}`),
      fact("First seen", moment(agreement.first_seen_at), " in ", h("a", { href: articleHref(first.id) }, first.title || first.id)),
      fact("Registry key", h("code", null, agreement.key))),
    h("h3", null, "Evidence"),
    agreement.evidence.map((e) => h("blockquote", { class: "evidence-quote" }, e.sentence)),
    evidenceText,
    h("h3", null, `Every article that reported it (${reports.length})`),
    h("ol", { class: "reports" }, reports.map((report, i) => reportItem(report, i < EAGER_REPORTS))),
  );
  view.scrollIntoView({ block: "start" });
  try {
    const article = await api(`/articles/${encodeURIComponent(first.id)}`);
    if (renderId !== state.renderId) return;
    fill(evidenceText, h("p", { class: "muted small" }, "In the first article that reported it, ",
      h("a", { href: articleHref(article.id) }, article.title || article.id),
      article.source ? ` (${article.source}${article.published ? `, ${article.published}` : ""})` : "", ":"),
    evidenceBlock(article, agreement.evidence));
  } catch (error) {
    fill(evidenceText, h("p", { class: "error" }, `The article could not be read: ${error.message}`));
  }
  const eager = reports.slice(0, EAGER_REPORTS);
  await pool(eager, 4, async (report) => {
    if (renderId === state.renderId) await report.load();
  });
}

function reportItem(report, eager) {
  const { article, sightings } = report;
  const evidence = sightings.flatMap((s) => s.evidence);
  const copies = h("div", { class: "copies-slot" });
  const reading = h("div", { class: "reading" });
  let loaded = null;
  report.load = () => {
    if (!loaded) {
      loaded = api(`/articles/${encodeURIComponent(article.id)}`).then((detail) => {
        fill(copies, duplicatesList(detail.duplicates) || "");
        fill(reading, evidenceBlock(detail, evidence));
        return detail;
      }).catch((error) => {
        fill(reading, h("p", { class: "error" }, `The article could not be read: ${error.message}`));
        loaded = null;
      });
    }
    return loaded;
  };
  const details = h("details", { ontoggle: () => { if (details.open) report.load(); } },
    h("summary", null, "Read it, with the evidence highlighted"), reading);
  if (!eager) copies.append(h("span", { class: "muted small" }, "Open the article to see its copies."));
  return h("li", { class: "report", dataset: { id: article.id } },
    h("div", { class: "report-head" },
      h("a", { class: "report-title", href: articleHref(article.id) }, article.title || article.id),
      h("span", { class: "muted" }, [article.source, article.published].filter(Boolean).join(" · ")),
      article.url ? externalLink(article.url, "original ↗") : null,
      sightings.some((s) => s.first) ? h("span", { class: "badge" }, "first report") : null,
      sightings.some((s) => s.alerted) ? h("span", { class: "badge fresh-signed" }, "raised the alert") : null),
    h("div", { class: "muted small" }, "seen ", moment(sightings[0].seen_at), " · reported as ",
      sightings.map((s) => `${kindLabel(s.record.kind)}, ${statusLabel(s.record.status)}${s.record.signed_on ? `, ${s.record.signed_on}` : ""}, ${percent(s.record.confidence)}`).join("; ")),
    evidence.map((e) => h("blockquote", { class: "alert-evidence" }, e.sentence)),
    copies,
    details);
}

function backLink() {
  return h("p", { class: "crumbs" }, h("a", {
    href: "#/registry",
    onclick: (event) => {
      if (history.length > 1) { event.preventDefault(); history.back(); }
    },
  }, "← back"));
}

// --- the article page -------------------------------------------------------------------

async function showArticle(id, renderId) {
  const view = $("view-article");
  fill(view, h("p", { class: "muted" }, "Loading the article…"));
  document.title = "pactwatch · article";
  let article;
  try {
    article = await api(`/articles/${encodeURIComponent(id)}`);
  } catch (error) {
    if (renderId !== state.renderId) return;
    fill(view, backLink(), h("p", { class: "error" }, error.message));
    return;
  }
  if (renderId !== state.renderId) return;
  document.title = `pactwatch · ${article.title}`;
  const evidence = article.agreements.flatMap((a) => a.evidence);
  const registered = h("ul", { class: "pair-list" }, article.agreement_keys.map((key) => h("li", { dataset: { key } },
    h("a", { href: agreementHref(key) }, key))));
  fill(view,
    backLink(),
    h("h2", null, article.title || "(no headline)"),
    h("dl", { class: "facts" },
      fact("Source", article.source || h("span", { class: "muted" }, "unknown"), article.url ? [" · ", externalLink(article.url, "original ↗")] : null),
      fact("Published", article.published || h("span", { class: "muted" }, "unknown")),
      fact("Countries", article.countries.length ? article.countries.map((c) => `${c} (${countryName(c)})`).join(", ") : h("span", { class: "muted" }, "none found")),
      fact("Ingested", moment(article.ingested_at)),
      article.duplicate_of ? fact("Copy of", h("a", { href: articleHref(article.duplicate_of) }, article.duplicate_of),
        ` (same ${article.duplicate_method || "text"}${article.duplicate_similarity !== null ? `, ${percent(article.duplicate_similarity)} similar` : ""})`) : null,
      article.skipped ? fact("Not analysed", article.skipped) : null,
      article.notes.length ? fact("Notes", article.notes.join("; ")) : null),
    article.agreement_keys.length ? [h("h3", null, "Agreements it reported"), registered] : null,
    duplicatesList(article.duplicates),
    h("h3", null, "Text"),
    evidenceBlock(article, evidence),
  );
  view.scrollIntoView({ block: "start" });
  await pool(article.agreement_keys.slice(0, 20), 4, async (key) => {
    try {
      const agreement = await api(`/agreements/${encodeURIComponent(key)}`);
      const item = registered.querySelector(`[data-key="${CSS.escape(key)}"]`);
      if (item) fill(item, kindBadge(agreement.kind), " ", h("a", { href: agreementHref(key) }, agreement.title), " ", statusBadge(agreement.status), h("span", { class: "muted" }, ` · ${agreement.parties.filter(Boolean).join("–")}`));
    } catch {
      // the key stays listed as a link
    }
  });
}

// --- start ------------------------------------------------------------------------------

function main() {
  setupKeyPanel();
  setupFilters();
  window.addEventListener("hashchange", () => render());
  startFeed();
  loadCountries().finally(() => render());
}

main();
