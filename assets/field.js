/*
 * Field page (/field): the grid leader's reports, queued on the phone until the server has them.
 *
 * The queue. A report gets its report_id here, when the leader taps submit, and
 * is written to localStorage (key wartime.field.reports.v1) before anything is
 * sent: it survives a reload, a closed browser, a dead battery. Reports are sent
 * one at a time, oldest first, to POST /api/v1/operations/{op}/reports with the
 * session's bearer token (localStorage "session", the app shell's dcc.Store):
 *   201, or 200 {duplicate: true}   acknowledged: leaves the queue;
 *   401                             session expired: stays queued, back to login;
 *   408, 429, 5xx, network, timeout stays queued, retried with backoff (1 s … 30 s);
 *   any other 4xx                   refused: leaves the queue, shown with the reason.
 * The server keeps report ids per operation, so a report whose answer was lost
 * and is sent again is acknowledged as a duplicate and never counted twice.
 * One tab sends at a time (Web Locks). `[data-queue]` carries in data-value how
 * many reports are not yet acknowledged.
 *
 * The view. Grids, operations, targets and counts come from GET /api/v1/field/mine
 * and are kept in localStorage, so a reload with no network still shows them.
 * Everything is built with DOM calls and textContent — user text is never parsed
 * as HTML. The page frame is Dash (dashboard/pages/field.py); its clientside
 * callback calls wartimeField.boot(session, strings, lang).
 *
 * Offline reloads. A service worker (/api/v1/field/sw.js, assets/field-sw.js)
 * keeps the page, Dash's scripts and the pages router's answer for /field.
 * This file tells it which URLs the page used and replays the router request it
 * saw, so that one visit online is enough.
 */
(function () {
  'use strict';

  var API = '/api/v1';
  var K_REPORTS = 'wartime.field.reports.v1';
  var K_MINE = 'wartime.field.mine.v1';
  var K_ROUTES = 'wartime.field.routes.v1';
  var K_PICK = 'wartime.field.pick.v1';
  var KEEP_DONE = 50;
  var SHOW_RECENT = 20;
  var BACKOFF_MIN_MS = 1000;
  var BACKOFF_MAX_MS = 30000;
  var REQUEST_TIMEOUT_MS = 15000;
  var POLL_MS = 20000;
  var MAX_CHIPS = 12;

  var S = {
    session: null,
    strings: {},
    lang: 'zh-CN',
    mine: null,
    mineAt: 0,
    mineLive: false,
    skew: 0,
    grid: null,
    op: null,
    form: { counts: {}, note: '', reason: '', correction: false },
    message: null,
    draining: false,
    sending: null,
    backoff: 0,
    retryAt: 0,
    retryTimer: null,
    lastError: '',
    lastPoll: 0,
    formKey: '',
    locate: false,
    where: null,
    photo: null
  };

  /* ---------------------------------------------------------------- storage */

  function load(key, dflt) {
    try {
      var raw = window.localStorage.getItem(key);
      return raw ? JSON.parse(raw) : dflt;
    } catch (e) {
      return dflt;
    }
  }

  function save(key, value) {
    window.localStorage.setItem(key, JSON.stringify(value));
  }

  function readSession() {
    var s = load('session', null);
    return s && typeof s === 'object' && s.token ? s : null;
  }

  function session() {
    return S.session && S.session.token ? S.session : readSession();
  }

  function reports() {
    var list = load(K_REPORTS, []);
    return Array.isArray(list) ? list : [];
  }

  /* Read-modify-write of the report list; always from storage, so other tabs' changes are kept. */
  function updateReports(change) {
    var list = reports();
    change(list);
    var done = list.filter(function (r) { return r.state !== 'queued'; });
    var drop = done.length - KEEP_DONE;
    if (drop > 0) {
      var old = {};
      done.slice(0, drop).forEach(function (r) { old[r.report_id] = true; });
      list = list.filter(function (r) { return !old[r.report_id]; });
    }
    save(K_REPORTS, list);
    return list;
  }

  function mark(reportId, fields) {
    updateReports(function (list) {
      list.forEach(function (r) {
        if (r.report_id === reportId) {
          Object.keys(fields).forEach(function (k) { r[k] = fields[k]; });
        }
      });
    });
  }

  function queued() {
    return reports().filter(function (r) { return r.state === 'queued'; });
  }

  function newReportId() {
    if (window.crypto && typeof window.crypto.randomUUID === 'function') {
      return window.crypto.randomUUID();
    }
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return 'r-' + Array.prototype.map.call(bytes, function (b) {
      return ('0' + b.toString(16)).slice(-2);
    }).join('');
  }

  /* ---------------------------------------------------------------- strings */

  function tr(key, fmt) {
    var text = Object.prototype.hasOwnProperty.call(S.strings, key) ? S.strings[key] : key;
    if (fmt) {
      Object.keys(fmt).forEach(function (k) { text = text.split('{' + k + '}').join(String(fmt[k])); });
    }
    return text;
  }

  function pad(n) { return (n < 10 ? '0' : '') + n; }

  /* Punctuation follows the language: full-width in Chinese, ASCII in English. */
  function colon() { return S.lang === 'en' ? ': ' : '：'; }
  function paren(text) { return S.lang === 'en' ? ' (' + text + ')' : '（' + text + '）'; }
  function comma() { return S.lang === 'en' ? ', ' : '，'; }

  /* Wall-clock time in the county's zone (Asia/Shanghai, as command/localtime.py), whatever the phone's zone. */
  var ZONED = (function () {
    try {
      return new Intl.DateTimeFormat('en-GB', { timeZone: 'Asia/Shanghai', hourCycle: 'h23', month: '2-digit',
                                                day: '2-digit', hour: '2-digit', minute: '2-digit' });
    } catch (e) { return null; }
  }());

  function zonedParts(ms) {
    var out = {};
    if (ZONED) {
      ZONED.formatToParts(new Date(ms)).forEach(function (p) { out[p.type] = p.value; });
      return out;
    }
    var d = new Date(ms + 8 * 3600000);  // no Intl: the fixed UTC+8 of localtime.py
    return { month: pad(d.getUTCMonth() + 1), day: pad(d.getUTCDate()), hour: pad(d.getUTCHours()),
             minute: pad(d.getUTCMinutes()) };
  }

  function clock(ms) {
    var d = zonedParts(ms);
    var now = zonedParts(Date.now());
    var hm = d.hour + ':' + d.minute;
    if (d.month === now.month && d.day === now.day && Math.abs(Date.now() - ms) < 86400000) { return hm; }
    return d.month + '-' + d.day + ' ' + hm;
  }

  function fmtNumber(n) {
    try { return Number(n).toLocaleString(S.lang === 'en' ? 'en-US' : 'zh-CN'); } catch (e) { return String(n); }
  }

  /* ---------------------------------------------------------------- DOM */

  /* h('div', {className: 'x', dataset: {...}}, child…): strings become text nodes, never HTML. */
  function h(tag, attrs) {
    var el = document.createElement(tag);
    var a = attrs || {};
    Object.keys(a).forEach(function (k) {
      var v = a[k];
      if (v === null || v === undefined || v === false) { return; }
      if (k === 'className') { el.className = v; }
      else if (k === 'text') { el.textContent = v; }
      else if (k === 'dataset') { Object.keys(v).forEach(function (d) { el.setAttribute('data-' + d, String(v[d])); }); }
      else if (k === 'value') { el.value = v; }
      else if (k === 'checked') { el.checked = !!v; }
      else if (k === 'style') { el.setAttribute('style', v); }
      else { el.setAttribute(k, v === true ? '' : String(v)); }
    });
    for (var i = 2; i < arguments.length; i++) { append(el, arguments[i]); }
    return el;
  }

  function append(el, child) {
    if (child === null || child === undefined || child === false) { return; }
    if (Array.isArray(child)) { child.forEach(function (c) { append(el, c); }); return; }
    el.appendChild(typeof child === 'object' ? child : document.createTextNode(String(child)));
  }

  function fill(el, child) {
    if (!el) { return; }
    while (el.firstChild) { el.removeChild(el.firstChild); }
    append(el, child);
  }

  function byId(id) { return document.getElementById(id); }

  function onFieldPage() { return !!byId('field-root'); }

  /* ---------------------------------------------------------------- data */

  function authHeaders(token) {
    return { 'Authorization': 'Bearer ' + token, 'Content-Type': 'application/json' };
  }

  function timedFetch(url, options) {
    var ctrl = typeof AbortController === 'function' ? new AbortController() : null;
    var timer = ctrl ? setTimeout(function () { ctrl.abort(); }, REQUEST_TIMEOUT_MS) : null;
    var opts = Object.assign({ cache: 'no-store', credentials: 'omit' }, options || {});
    if (ctrl) { opts.signal = ctrl.signal; }
    return window.fetch(url, opts).then(function (r) {
      if (timer) { clearTimeout(timer); }
      return r.text().then(function (text) {
        var data = null;
        try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
        return { status: r.status, data: data };
      });
    }, function (err) {
      if (timer) { clearTimeout(timer); }
      throw err;
    });
  }

  function mineCache(username) {
    var c = load(K_MINE, null);
    return c && c.username === username && c.data ? c : null;
  }

  function fetchMine() {
    var s = session();
    if (!s || !onFieldPage()) { return Promise.resolve(); }
    S.lastPoll = Date.now();
    return timedFetch(API + '/field/mine', { headers: authHeaders(s.token) }).then(function (res) {
      if (res.status === 401) { expire(); return; }
      if (res.status !== 200 || !res.data) { return; }
      var now = Date.now();
      S.mine = res.data;
      S.mineAt = now;
      S.mineLive = true;
      S.skew = (res.data.server_time || now) - now;
      try { save(K_MINE, { username: s.username, at: now, data: res.data }); } catch (e) { /* full: keep memory copy */ }
      normalisePick();
      renderAll();
    }, function () {
      S.mineLive = false;
      renderNet();
    });
  }

  var refreshTimers = [];
  function refreshSoon() {
    refreshTimers.forEach(clearTimeout);
    refreshTimers = [setTimeout(fetchMine, 300), setTimeout(fetchMine, 1500)];
  }

  /* ---------------------------------------------------------------- queue */

  function classify(status, data) {
    if ((status === 201 || status === 200) && data && data.event_id) {
      return { kind: 'ack', duplicate: !!data.duplicate, eventId: data.event_id };
    }
    if (status === 401) { return { kind: 'auth' }; }
    if (status === 408 || status === 429 || status >= 500 || status < 400) {
      return { kind: 'retry', error: 'HTTP ' + status };
    }
    var err = (data && data.error) || {};
    return { kind: 'refused', status: status, code: err.code || '', field: err.field || '',
             message: err.message || ('HTTP ' + status) };
  }

  /* A report's photo waits in IndexedDB (assets/capture.js), not in the list: sent with the report. */
  function photoOf(item) {
    if (!item.photo || !window.wartimeCapture) { return Promise.resolve(null); }
    return window.wartimeCapture.get(item.report_id).then(function (d) { return d || null; },
                                                          function () { return null; });
  }

  function send(item, token) {
    return photoOf(item).then(function (photo) { return sendWith(item, token, photo); });
  }

  function sendWith(item, token, photo) {
    var body = { report_id: item.report_id, grid: item.grid, counts: item.counts };
    if (item.note) { body.note = item.note; }
    if (item.reason) { body.reason = item.reason; }
    if (item.location) { body.location = item.location; }
    if (photo) { body.photo_image = photo; }
    if (item.path) { body = item.body || {}; }  /* another field action (on post: assets/field-order.js) */
    return timedFetch(item.path ? API + item.path : API + '/operations/' + encodeURIComponent(item.op) + '/reports', {
      method: 'POST', headers: authHeaders(token), body: JSON.stringify(body)
    }).then(function (res) {
      return classify(res.status, res.data);
    }, function (err) {
      return { kind: 'retry', error: (err && err.name === 'AbortError') ? 'timeout' : 'network' };
    });
  }

  function scheduleRetry() {
    S.backoff = Math.min(Math.max(BACKOFF_MIN_MS, S.backoff * 2), BACKOFF_MAX_MS);
    var wait = Math.round(S.backoff * (0.5 + Math.random() / 2));
    S.retryAt = Date.now() + wait;
    if (S.retryTimer) { clearTimeout(S.retryTimer); }
    S.retryTimer = setTimeout(function () { S.retryTimer = null; drain(); }, wait);
  }

  function drainLoop() {
    var s = session();
    if (!s) { return Promise.resolve(); }
    var item = queued().filter(function (r) { return r.user === s.username; })[0];
    if (!item) { S.backoff = 0; S.retryAt = 0; S.lastError = ''; return Promise.resolve(); }
    if (navigator.onLine === false) { S.lastError = 'offline'; return Promise.resolve(); }
    S.sending = item.report_id;
    renderNet();
    return send(item, s.token).then(function (res) {
      S.sending = null;
      if ((res.kind === 'ack' || res.kind === 'refused') && item.photo && window.wartimeCapture) {
        window.wartimeCapture.drop(item.report_id);  /* the server has it (or never will): the phone lets go */
      }
      if (res.kind === 'ack') {
        mark(item.report_id, { state: 'acked', duplicate: res.duplicate, event_id: res.eventId, acked_at: Date.now() });
        S.backoff = 0; S.retryAt = 0; S.lastError = '';
        renderQueueViews();
        refreshSoon();
        return drainLoop();
      }
      if (res.kind === 'refused') {
        mark(item.report_id, { state: 'refused', status: res.status, code: res.code, field: res.field,
                               error: res.message, refused_at: Date.now() });
        renderQueueViews();
        return drainLoop();
      }
      if (res.kind === 'auth') { expire(); return null; }
      mark(item.report_id, { attempts: (item.attempts || 0) + 1, last_error: res.error });
      S.lastError = res.error;
      scheduleRetry();
      renderQueueViews();
      return null;
    });
  }

  /* Send what is queued, one tab at a time; safe to call as often as one likes. */
  function drain() {
    if (S.draining || !queued().length || !session()) { return; }
    S.draining = true;
    var finish = function () { S.draining = false; S.sending = null; renderQueueViews(); };
    if (navigator.locks && navigator.locks.request) {
      navigator.locks.request('wartime-field-queue', { ifAvailable: true }, function (lock) {
        return lock ? drainLoop() : null;
      }).then(finish, finish);
    } else {
      drainLoop().then(finish, finish);
    }
  }

  function retryNow() {
    S.backoff = 0; S.retryAt = 0;
    if (S.retryTimer) { clearTimeout(S.retryTimer); S.retryTimer = null; }
    drain();
  }

  /* ---------------------------------------------------------------- session */

  function setProps(id, props) {
    var dc = window.dash_clientside;
    if (dc && typeof dc.set_props === 'function') {
      try { dc.set_props(id, props); return true; } catch (e) { return false; }
    }
    return false;
  }

  function expire() {
    S.session = null;
    S.mine = null;
    if (!setProps('session', { data: null })) {
      window.localStorage.removeItem('session');
      window.location.reload();
      return;
    }
    setProps('field-login-error', { children: tr('field.expired') });
  }

  function logout() {
    var s = session();
    if (s) {
      timedFetch(API + '/session', { method: 'DELETE', headers: authHeaders(s.token) }).catch(function () {});
    }
    try { window.localStorage.removeItem(K_MINE); } catch (e) { /* ignore */ }
    S.session = null;
    S.mine = null;
    if (!setProps('session', { data: null })) {
      window.localStorage.removeItem('session');
      window.location.reload();
    }
  }

  /* ---------------------------------------------------------------- selection */

  function grids() { return (S.mine && S.mine.grids) || []; }

  function opsOf(grid) {
    return ((S.mine && S.mine.operations) || []).filter(function (op) {
      return op.grids && Object.prototype.hasOwnProperty.call(op.grids, grid);
    });
  }

  function findOp(id) {
    return ((S.mine && S.mine.operations) || []).filter(function (op) { return op.id === id; })[0] || null;
  }

  function findGrid(code) {
    return grids().filter(function (g) { return g.code === code; })[0] || null;
  }

  function normalisePick() {
    var saved = load(K_PICK, {}) || {};
    var gs = grids();
    if (!findGrid(S.grid)) {
      S.grid = findGrid(saved.grid) ? saved.grid : null;
      if (!S.grid) {
        var withOp = gs.filter(function (g) { return opsOf(g.code).length; })[0];
        S.grid = (withOp || gs[0] || {}).code || null;
      }
    }
    var ops = S.grid ? opsOf(S.grid) : [];
    if (!ops.some(function (o) { return o.id === S.op; })) {
      S.op = ops.some(function (o) { return o.id === saved.op; }) ? saved.op : ((ops[0] || {}).id || null);
    }
    try { save(K_PICK, { grid: S.grid, op: S.op }); } catch (e) { /* ignore */ }
  }

  /* ---------------------------------------------------------------- rendering */

  function renderAll() {
    renderWho();
    renderNet();
    renderQueue();
    renderMain();
  }

  function renderQueueViews() {
    followMessage();
    renderQueue();
    renderNet();
    renderProgress();
    renderRecent();
  }

  function renderWho() {
    var el = byId('field-who');
    if (!el) { return; }
    var s = session();
    if (!s) { fill(el, null); return; }
    var root = S.mine && S.mine.root;
    fill(el, [
      h('span', { className: 'field-user', text: s.username }),
      root ? h('span', { className: 'field-scope', text: root.name }) : null
    ]);
  }

  function renderQueue() {
    var el = byId('field-queue') || document.querySelector('[data-queue]');
    if (!el) { return; }
    var n = queued().length;
    el.setAttribute('data-value', String(n));
    el.className = 'field-queue ' + (n ? 'field-queue-waiting' : 'field-queue-clear');
    fill(el, [
      h('span', { className: 'field-queue-dot', 'aria-hidden': 'true' }),
      n ? h('span', { className: 'field-queue-n', text: String(n) }) : null,
      h('span', { className: 'field-queue-label', text: n ? tr('field.queue') : tr('field.queue.none') })
    ]);
  }

  function renderNet() {
    var el = byId('field-net');
    if (!el) { return; }
    var offline = navigator.onLine === false;
    var n = queued().length;
    var parts = [];
    var cls = 'field-net';
    if (offline) {
      cls += ' field-net-offline';
      parts.push(h('span', { text: tr('field.offline') }));
    } else if (S.sending) {
      cls += ' field-net-busy';
      parts.push(h('span', { text: tr('field.sending') }));
    } else if (n && S.retryAt > Date.now()) {
      cls += ' field-net-retry';
      parts.push(h('span', { text: tr('field.retry_in', { s: Math.max(1, Math.ceil((S.retryAt - Date.now()) / 1000)) }) }));
      parts.push(h('button', { type: 'button', className: 'field-linkbtn', dataset: { action: 'retry-now' },
                               text: tr('field.retry_now') }));
    } else if (session() && S.mine && !S.mineLive && S.mineAt) {
      cls += ' field-net-cached';
      parts.push(h('span', { text: tr('field.cached', { t: clock(S.mineAt) }) }));
    } else {
      cls += ' field-net-ok';
    }
    el.className = cls;
    fill(el, parts);
  }

  function ensureSkeleton() {
    var app = byId('field-app');
    if (!app) { return null; }
    if (!byId('field-sel') || !app.contains(byId('field-sel'))) {
      fill(app, [
        h('section', { id: 'field-sel', className: 'field-sel' }),
        h('section', { id: 'field-progress', className: 'field-card field-progress' }),
        h('form', { id: 'field-form', className: 'field-card field-form', novalidate: true, autocomplete: 'off' }),
        h('section', { id: 'field-recent', className: 'field-recent-wrap' })
      ]);
      S.formKey = '';
    }
    return app;
  }

  function renderMain() {
    if (!ensureSkeleton()) { return; }
    renderSel();
    renderProgress();
    renderForm(false);
    renderRecent();
  }

  function renderSel() {
    var el = byId('field-sel');
    if (!el) { return; }
    if (!S.mine) {
      fill(el, h('p', { className: 'field-muted', text: tr('field.loading') }));
      return;
    }
    var gs = grids();
    var parts = [];
    if (!gs.length) {
      parts.push(h('p', { className: 'field-empty', text: tr('field.no_grids') }));
      fill(el, parts);
      return;
    }
    if (S.mine.truncated) {
      parts.push(h('p', { className: 'field-muted', text: tr('field.truncated', { n: gs.length }) }));
    }
    parts.push(h('h2', { className: 'field-h2', text: tr('field.my_grids') }));
    if (gs.length > MAX_CHIPS) {
      var select = h('select', { className: 'field-select', name: 'grid', dataset: { action: 'pick-grid-select' } });
      gs.forEach(function (g) {
        var opt = h('option', { value: g.code, text: g.name + ' · ' + g.code });
        if (g.code === S.grid) { opt.selected = true; }
        select.appendChild(opt);
      });
      parts.push(select);
    } else {
      parts.push(h('div', { className: 'field-chips', role: 'tablist' }, gs.map(function (g) {
        var n = opsOf(g.code).length;
        return h('button', {
          type: 'button', role: 'tab', 'aria-selected': g.code === S.grid ? 'true' : 'false',
          className: 'field-chip' + (g.code === S.grid ? ' field-chip-on' : '') +
            (g.mode === 'wartime' ? ' field-chip-war' : ''),
          dataset: { action: 'pick-grid', grid: g.code }
        }, h('span', { className: 'field-chip-name', text: g.name }),
           h('span', { className: 'field-chip-meta', text: n ? tr('field.ops_n', { n: n }) : g.code }));
      })));
    }
    var g = findGrid(S.grid);
    if (g) {
      var meta = [tr(g.grid_level)];
      if (g.mode === 'wartime') {
        meta.push(tr('wartime') + ' · ' + tr(g.incident || 'other') + ' · ' + tr('level.' + (g.level || 'IV')));
      } else {
        meta.push(tr('peacetime'));
      }
      var sec = g.secretary;
      parts.push(h('div', { className: 'field-grid-meta' },
        h('span', { className: 'field-mode field-mode-' + g.mode, dataset: { mode: g.mode }, text: meta.join(' · ') }),
        sec ? h('span', { className: 'field-sec', text: tr('field.secretary') + colon() + sec.name +
          (sec.acting ? paren(tr('field.acting')) : '') }) : null));
    }
    var ops = S.grid ? opsOf(S.grid) : [];
    if (ops.length > 1) {
      parts.push(h('h2', { className: 'field-h2', text: tr('field.operations') }));
      parts.push(h('div', { className: 'field-tabs', role: 'tablist' }, ops.map(function (op) {
        return h('button', {
          type: 'button', role: 'tab', 'aria-selected': op.id === S.op ? 'true' : 'false',
          className: 'field-tab' + (op.id === S.op ? ' field-tab-on' : ''),
          dataset: { action: 'pick-op', op: op.id }
        }, h('span', { text: op.name }), h('small', { text: tr(op.kind) }));
      })));
    }
    fill(el, parts);
  }

  function pendingFor(op, grid) {
    var sum = {};
    queued().forEach(function (r) {
      if (r.op === op && r.grid === grid) {
        Object.keys(r.counts || {}).forEach(function (c) { sum[c] = (sum[c] || 0) + r.counts[c]; });
      }
    });
    return sum;
  }

  function deadlineText(op) {
    if (!op.deadline) { return null; }
    var now = Date.now() + S.skew;
    var left = op.deadline - now;
    var due = tr('field.deadline', { t: clock(op.deadline) });
    if (left <= 0) { return { text: due + ' · ' + tr('field.overdue'), late: true }; }
    var mins = Math.floor(left / 60000);
    var rest = mins >= 60 ? tr('field.left_h', { h: Math.floor(mins / 60), m: mins % 60 }) : tr('field.left_m', { m: mins });
    return { text: due + ' · ' + rest, late: false };
  }

  /* Progress against the target; what waits in the queue shows as a lighter stretch after it. */
  function bar(count, target, pending) {
    var pct = target > 0 ? Math.min(100, Math.round(100 * count / target)) : 0;
    var more = target > 0 && pending > 0 ? Math.min(100 - pct, Math.round(100 * pending / target)) : 0;
    return h('div', { className: 'field-bar', role: 'progressbar', 'aria-valuemin': '0', 'aria-valuemax': '100',
                      'aria-valuenow': String(pct) },
      h('div', { className: 'field-bar-fill' + (target > 0 && count > target ? ' field-bar-over' : ''),
                 style: 'width:' + pct + '%' }),
      more > 0 ? h('div', { className: 'field-bar-pending', style: 'width:' + more + '%' }) : null);
  }

  function renderProgress() {
    var el = byId('field-progress');
    if (!el) { return; }
    var op = findOp(S.op);
    var g = findGrid(S.grid);
    if (!S.mine || !g) { el.hidden = true; fill(el, null); return; }
    el.hidden = false;
    if (!op) {
      fill(el, h('p', { className: 'field-empty', text: g.mode === 'wartime' ? tr('field.no_operations') : tr('field.not_wartime') }));
      return;
    }
    var cell = op.grids[S.grid] || { targets: {}, counts: {} };
    var pend = pendingFor(op.id, S.grid);
    var dl = deadlineText(op);
    var rows = op.counters.map(function (c) {
      var count = (cell.counts || {})[c] || 0;
      var target = (cell.targets || {})[c];
      var p = pend[c] || 0;
      return h('div', { className: 'field-prog-row', dataset: { counter: c, count: count } },
        h('div', { className: 'field-prog-head' },
          h('span', { className: 'field-prog-label', text: tr(c) }),
          h('span', { className: 'field-prog-num' },
            h('strong', { text: fmtNumber(count) }),
            target !== undefined ? h('span', { className: 'field-prog-target', text: ' / ' + fmtNumber(target) }) : null,
            p ? h('span', { className: 'field-prog-pending', text: ' ' + tr('field.pending', { n: (p > 0 ? '+' : '') + p }) }) : null)),
        target !== undefined && count > target ? h('div', { className: 'field-over', text: tr('over_target') }) : null,
        target !== undefined ? bar(count, target, p) : null);
    });
    var summary = op.summary && op.summary.grid !== S.grid && S.mine.root ? op.summary : null;
    fill(el, [
      h('div', { className: 'field-op-head' },
        h('div', { className: 'field-op-kind', text: tr(op.kind) }),
        h('h2', { className: 'field-op-name', text: op.name }),
        dl ? h('div', { className: 'field-deadline' + (dl.late ? ' field-late' : ''), text: dl.text }) : null),
      h('div', { className: 'field-prog-grid', text: g.name }),
      rows,
      summary ? h('div', { className: 'field-prog-summary' },
        h('strong', { text: tr('field.grid_total', {
          name: summary.grid === S.mine.root.code ? S.mine.root.name : summary.grid }) }),
        h('span', { text: op.counters.map(function (c) {
          var n = (summary.counts || {})[c] || 0;
          var t = (summary.targets || {})[c];
          return tr(c) + ' ' + fmtNumber(n) + (t !== undefined ? ' / ' + fmtNumber(t) : '');
        }).join(' · ') })) : null
    ]);
  }

  function renderForm(force) {
    var el = byId('field-form');
    if (!el) { return; }
    var op = findOp(S.op);
    var canReport = S.mine && S.mine.can_report;
    var key = [S.lang, S.grid, S.op, canReport ? 1 : 0, S.form.correction ? 1 : 0].join('|');
    if (!force && key === S.formKey) { renderMessage(); return; }
    S.formKey = key;
    if (!S.mine || !op || !findGrid(S.grid)) { el.hidden = true; fill(el, null); return; }
    el.hidden = false;
    if (!canReport) { fill(el, h('p', { className: 'field-muted', text: tr('field.readonly') })); return; }
    var corr = S.form.correction;
    el.className = 'field-card field-form' + (corr ? ' field-form-correction' : '');
    var counters = op.counters.map(function (c) {
      var id = 'field-c-' + c;
      var v = S.form.counts[c];
      return h('div', { className: 'field-counter', dataset: { counter: c } },
        h('label', { className: 'field-counter-label', 'for': id },
          h('span', { text: tr(c) }),
          h('small', { text: corr ? tr('field.remove') : tr('field.increment') })),
        h('div', { className: 'field-stepper' },
          h('button', { type: 'button', className: 'field-step field-step-minus', 'aria-label': '−1',
                        dataset: { action: 'step', counter: c, step: '-1' }, text: '−' }),
          h('input', { id: id, name: c, type: 'number', inputmode: 'numeric', pattern: '[0-9]*', min: '0', step: '1',
                       className: 'field-num', placeholder: '0', value: v === undefined ? '' : String(v),
                       'aria-label': tr(c) }),
          h('button', { type: 'button', className: 'field-step field-step-plus', 'aria-label': '+1',
                        dataset: { action: 'step', counter: c, step: '1' }, text: '+' }),
          h('button', { type: 'button', className: 'field-step field-step-ten', 'aria-label': '+10',
                        dataset: { action: 'step', counter: c, step: '10' }, text: '+10' })));
    });
    fill(el, [
      h('h2', { className: 'field-h2', text: corr ? tr('correction') : tr('field.report') }),
      counters,
      h('label', { className: 'field-label', 'for': 'field-note', text: tr('field.note') }),
      h('textarea', { id: 'field-note', name: 'note', rows: '2', maxlength: '500', className: 'field-text',
                      placeholder: tr('field.note_ph'), value: S.form.note }),
      h('label', { className: 'field-check' },
        h('input', { type: 'checkbox', name: 'correction', checked: corr, dataset: { action: 'toggle-correction' } }),
        h('span', { text: tr('field.correction') })),
      h('label', { className: 'field-label field-photo-label', 'for': 'field-photo', text: tr('field.photo') }),
      h('div', { className: 'field-photo' },
        h('input', { id: 'field-photo', name: 'photo', type: 'file', accept: 'image/*', capture: 'environment',
                     className: 'field-photo-input' }),
        h('label', { 'for': 'field-photo', className: 'field-photo-take', role: 'button',
                     text: S.photo && S.photo.thumb ? tr('field.photo_again') : tr('field.photo_take') }),
        h('img', { id: 'field-photo-thumb', className: 'field-thumb', alt: tr('field.photo'),
                   hidden: !S.photo, src: S.photo ? S.photo.thumb : undefined }),
        h('small', { id: 'field-photo-info', className: 'field-where', text: photoText() }),
        h('button', { type: 'button', className: 'field-photo-drop', hidden: !S.photo,
                      dataset: { action: 'drop-photo' }, text: tr('field.photo_drop') })),
      h('label', { className: 'field-check field-locate' },
        h('input', { type: 'checkbox', name: 'locate', checked: !!S.locate }),
        h('span', { text: tr('field.locate') }),
        h('small', { id: 'field-where', className: 'field-where', text: whereText() })),
      corr ? h('label', { className: 'field-label', 'for': 'field-reason', text: tr('field.reason') }) : null,
      corr ? h('input', { id: 'field-reason', name: 'reason', type: 'text', maxlength: '500', className: 'field-text',
                          placeholder: tr('field.reason_ph'), value: S.form.reason }) : null,
      h('div', { id: 'field-msg', className: 'field-msg', role: 'status', 'aria-live': 'polite' }),
      h('button', { type: 'submit', className: 'field-submit' + (corr ? ' field-submit-correction' : ''),
                    dataset: { action: 'submit-report' }, text: corr ? tr('field.submit_correction') : tr('field.submit') })
    ]);
    renderMessage();
  }

  /* The message under the form follows the last report sent from it: saved → confirmed or refused. */
  function followMessage() {
    var m = S.message;
    if (!m || !m.reportId) { return; }
    var r = reports().filter(function (x) { return x.report_id === m.reportId; })[0];
    if (!r || r.state === 'queued') { return; }
    S.message = r.state === 'acked' ? { kind: 'ok', text: tr('field.sent') }
      : { kind: 'error', text: tr('field.state.refused') + colon() + errorText(r) };
    renderMessage();
  }

  function renderMessage() {
    var el = byId('field-msg');
    if (!el) { return; }
    var m = S.message;
    el.className = 'field-msg' + (m ? ' field-msg-' + m.kind : '');
    el.textContent = m ? m.text : '';
  }

  function errorText(r) {
    var code = r.code || '';
    var field = r.field || '';
    var key = null;
    if (r.status === 403) { key = 'field.err.403'; }
    else if (r.status === 404) { key = 'field.err.404'; }
    else if (code === 'operation_closed') { key = 'field.err.closed'; }
    else if (code === 'mode_conflict') { key = 'field.err.mode'; }
    else if (r.status === 413 || code === 'too_large') { key = 'field.err.too_large'; }
    else if (field === 'reason') { key = 'field.err.reason'; }
    else if (/below zero/.test(r.error || '')) { key = 'field.err.below_zero'; }
    else if (r.status === 422) { key = 'field.err.invalid'; }
    return key ? tr(key) : (r.error || '');
  }

  function countsText(counts) {
    return Object.keys(counts || {}).map(function (c) {
      var n = counts[c];
      return (n > 0 ? '+' : '−') + fmtNumber(Math.abs(n)) + ' ' + tr(c);
    }).join(comma());
  }

  function renderRecent() {
    var el = byId('field-recent');
    if (!el) { return; }
    var s = session();
    var all = reports();
    var mineList = all.filter(function (r) { return s && r.user === s.username; }).reverse().slice(0, SHOW_RECENT);
    var others = all.filter(function (r) { return r.state === 'queued' && (!s || r.user !== s.username); }).length;
    var items = mineList.map(function (r) {
      var state = r.state === 'acked' && r.duplicate ? 'duplicate' : r.state;
      var badge = tr('field.state.' + state);
      if (r.state === 'queued' && r.attempts) { badge += ' · ' + r.attempts; }
      return h('li', { className: 'field-report field-report-' + r.state,
                       dataset: { 'report-id': r.report_id, state: r.state } },
        h('div', { className: 'field-report-top' },
          h('span', { className: 'field-badge field-badge-' + r.state, text: badge }),
          h('time', { className: 'field-report-time', text: clock(r.created_at) })),
        h('div', { className: 'field-report-counts', text: (r.label ? tr(r.label) : countsText(r.counts)) +
          (r.subject ? ' · ' + r.subject : '') }),
        h('div', { className: 'field-report-where', text: (r.grid_name || r.grid) + (r.op ? ' · ' + (r.op_name || r.op) : '') }),
        r.note ? h('div', { className: 'field-report-note', text: r.note }) : null,
        r.thumb ? h('img', { className: 'field-report-thumb', src: r.thumb, alt: tr('field.photo') }) : null,
        r.reason ? h('div', { className: 'field-report-reason', text: tr('correction') + colon() + r.reason }) : null,
        r.state === 'refused' ? h('div', { className: 'field-report-error', text: errorText(r) }) : null,
        r.state === 'refused' && r.error && errorText(r) !== r.error ?
          h('div', { className: 'field-report-detail', text: r.error }) : null);
    });
    fill(el, [
      h('h2', { className: 'field-h2', text: tr('field.recent') }),
      others ? h('p', { className: 'field-muted', text: tr('field.others_queued', { n: others }) }) : null,
      items.length ? h('ol', { className: 'field-recent' }, items)
        : h('p', { className: 'field-muted', text: tr('field.recent.none') })
    ]);
  }

  /* ---------------------------------------------------------------- actions */

  function readInt(value) {
    var v = String(value === undefined || value === null ? '' : value).trim();
    if (v === '') { return 0; }
    if (!/^\d+$/.test(v)) { return null; }
    return parseInt(v, 10);
  }

  function step(counter, by) {
    var input = document.querySelector('#field-form input[name="' + counter + '"]');
    var now = readInt(input ? input.value : S.form.counts[counter]);
    var next = Math.max(0, (now === null ? 0 : now) + by);
    S.form.counts[counter] = next ? String(next) : '';
    if (input) { input.value = S.form.counts[counter]; }
    S.message = null;
    renderMessage();
  }

  /* Optional location (opt-in per phone): one fix when asked, sent with the report while it is fresh.
     The server bounds it (command/bounds.py location: lat, lon, accuracy in metres). */
  var WHERE_MAX_AGE_MS = 5 * 60000;

  function whereText() {
    if (!S.locate) { return ''; }
    if (S.where === 'wait') { return tr('field.locating'); }
    if (S.where && S.where.lat !== undefined) { return tr('field.located', { m: Math.round(S.where.accuracy) }); }
    return tr('field.no_location');
  }

  function locate() {
    if (!window.wartimeCapture) { S.where = null; return; }
    S.where = 'wait';
    window.wartimeCapture.locate(function (where) {  /* assets/capture.js: shared with the matters page */
      S.where = where;
      var w = byId('field-where');
      if (w) { w.textContent = whereText(); }
    });
  }

  /* Optional photo: resized on the phone (assets/capture.js), queued with the report, sent once. */
  function photoText() {
    if (S.photo === 'wait') { return tr('field.photo_wait'); }
    if (S.photo === 'bad') { return tr('field.photo_bad'); }
    if (S.photo) { return tr('field.photo_ready', { w: S.photo.width, h: S.photo.height, kb: Math.round(S.photo.bytes / 1024) }); }
    return '';
  }

  function showPhoto() {
    var p = S.photo && S.photo.thumb ? S.photo : null;
    var img = byId('field-photo-thumb');
    if (img) { img.hidden = !p; if (p) { img.src = p.thumb; } else { img.removeAttribute('src'); } }
    var take = document.querySelector('#field-form .field-photo-take');
    if (take) { take.textContent = p ? tr('field.photo_again') : tr('field.photo_take'); }
    var drop = document.querySelector('#field-form [data-action=drop-photo]');
    if (drop) { drop.hidden = !p; }
    var info = byId('field-photo-info');
    if (info) { info.textContent = photoText(); }
  }

  function takePhoto(input) {
    var file = input.files && input.files[0];
    if (!file || !window.wartimeCapture) { return; }
    S.photo = 'wait';
    showPhoto();
    window.wartimeCapture.resize(file).then(function (p) { S.photo = p; showPhoto(); },
                                            function () { S.photo = 'bad'; showPhoto(); });
    input.value = '';
  }

  function submit() {
    var s = session();
    var op = findOp(S.op);
    var g = findGrid(S.grid);
    if (!s || !op || !g) { return; }
    var counts = {};
    var bad = false;
    op.counters.forEach(function (c) {
      var input = document.querySelector('#field-form input[name="' + c + '"]');
      var n = readInt(input ? input.value : S.form.counts[c]);
      if (n === null) { bad = true; return; }
      if (n) { counts[c] = S.form.correction ? -n : n; }
    });
    var noteEl = document.querySelector('#field-form [name="note"]');
    var reasonEl = document.querySelector('#field-form [name="reason"]');
    var note = (noteEl ? noteEl.value : S.form.note || '').trim();
    var reason = (reasonEl ? reasonEl.value : S.form.reason || '').trim();
    if (bad) { S.message = { kind: 'error', text: tr('field.err.number') }; renderMessage(); return; }
    if (!Object.keys(counts).length) { S.message = { kind: 'error', text: tr('field.err.empty') }; renderMessage(); return; }
    if (S.form.correction && !reason) { S.message = { kind: 'error', text: tr('field.err.reason') }; renderMessage(); return; }
    if (S.photo === 'wait') { S.message = { kind: 'error', text: tr('field.photo_wait') }; renderMessage(); return; }
    var where = S.locate && S.where && Date.now() - S.where.at < WHERE_MAX_AGE_MS ? S.where : null;
    var photo = S.photo && S.photo.dataUrl ? S.photo : null;
    var item = {
      location: where ? { lat: where.lat, lon: where.lon, accuracy: where.accuracy } : undefined,
      report_id: newReportId(),
      op: op.id, op_name: op.name, kind: op.kind,
      grid: g.code, grid_name: g.name,
      counts: counts, note: note, reason: S.form.correction ? reason : '',
      user: s.username, created_at: Date.now(), state: 'queued', attempts: 0,
      photo: photo ? true : undefined, thumb: photo ? photo.thumb : undefined
    };
    if (photo) {  /* the photo is kept before the report is queued: a queued report never lacks its photo */
      window.wartimeCapture.put(item.report_id, photo.dataUrl).then(function () { queueReport(item); }, function (e) {
        S.message = { kind: 'error', text: tr('field.photo_full') + paren(String(e && e.message || e)) };
        renderMessage();
      });
      return;
    }
    queueReport(item);
  }

  function queueReport(item) {
    try {
      updateReports(function (list) { list.push(item); });
    } catch (e) {
      S.message = { kind: 'error', text: String(e && e.message || e) };
      renderMessage();
      return;
    }
    S.photo = null;
    S.form = { counts: {}, note: '', reason: '', correction: false };
    if (S.locate) { locate(); }  /* a fresh fix for the next report */
    S.message = { kind: 'ok', reportId: item.report_id,
                  text: navigator.onLine === false ? tr('field.saved_offline') : tr('field.saved') };
    renderForm(true);
    renderQueueViews();
    drain();
  }

  function onClick(ev) {
    var target = ev.target && ev.target.closest ? ev.target.closest('[data-action]') : null;
    if (!target || !byId('field-root') || !byId('field-root').contains(target)) { return; }
    var action = target.getAttribute('data-action');
    if (action === 'step') {
      ev.preventDefault();
      step(target.getAttribute('data-counter'), parseInt(target.getAttribute('data-step'), 10) || 0);
    } else if (action === 'pick-grid') {
      S.grid = target.getAttribute('data-grid');
      S.op = null;
      S.message = null;
      normalisePick();
      renderMain();
    } else if (action === 'pick-op') {
      S.op = target.getAttribute('data-op');
      S.message = null;
      normalisePick();
      renderMain();
    } else if (action === 'drop-photo') {
      S.photo = null;
      showPhoto();
    } else if (action === 'retry-now') {
      retryNow();
    } else if (action === 'logout') {
      ev.preventDefault();
      logout();
    }
  }

  function onInput(ev) {
    var el = ev.target;
    if (!el || !el.closest || !el.closest('#field-form')) { return; }
    var name = el.getAttribute('name');
    if (name === 'note') { S.form.note = el.value; }
    else if (name === 'reason') { S.form.reason = el.value; }
    else if (name && name !== 'correction' && name !== 'photo' && name !== 'locate') { S.form.counts[name] = el.value; }
  }

  function onChange(ev) {
    var el = ev.target;
    if (el && el.getAttribute && el.getAttribute('data-action') === 'pick-grid-select') {
      S.grid = el.value;
      S.op = null;
      normalisePick();
      renderMain();
    } else if (el && el.getAttribute && el.getAttribute('name') === 'photo' && el.closest('#field-form')) {
      takePhoto(el);
    } else if (el && el.getAttribute && el.getAttribute('name') === 'locate' && el.closest('#field-form')) {
      S.locate = !!el.checked;  /* a preference: kept for the next report, unlike the counts */
      if (S.locate) { locate(); } else { S.where = null; }
      var w = byId('field-where');
      if (w) { w.textContent = whereText(); }
    } else if (el && el.getAttribute && el.getAttribute('name') === 'correction' && el.closest('#field-form')) {
      S.form.correction = !!el.checked;
      S.message = null;
      renderForm(true);
    }
  }

  function onSubmit(ev) {
    if (ev.target && ev.target.id === 'field-form') {
      ev.preventDefault();
      submit();
    }
  }

  /* ---------------------------------------------------------------- boot */

  function boot(sess, strings, lang) {
    var prev = S.session && S.session.username;
    S.session = sess && sess.token ? sess : null;
    S.strings = strings || {};
    S.lang = lang || 'zh-CN';
    if (!S.session) {
      S.mine = null;
      setTimeout(renderAll, 0);
      return;
    }
    if (prev !== S.session.username || !S.mine) {
      var cached = mineCache(S.session.username);
      S.mine = cached ? cached.data : null;
      S.mineAt = cached ? cached.at : 0;
      S.mineLive = false;
      S.grid = null;
      S.op = null;
      if (S.mine) { normalisePick(); }
    }
    S.formKey = '';
    setTimeout(function () {
      renderAll();
      fetchMine();
      drain();
      setupServiceWorker();
    }, 0);
  }

  function tick() {
    if (onFieldPage()) {
      renderNet();
      var s = session();
      if (s && navigator.onLine !== false && document.visibilityState !== 'hidden' &&
          Date.now() - S.lastPoll > POLL_MS) {
        fetchMine();
      }
    }
    if (!S.draining && !S.retryTimer && queued().length) { drain(); }
  }

  /* ---------------------------------------------------------------- offline page */

  /* Remember the pages router's request for /field, so the service worker can keep its answer. */
  (function watchRouter() {
    var original = window.fetch;
    if (typeof original !== 'function') { return; }
    window.fetch = function (input, init) {
      try {
        var url = typeof input === 'string' ? input : (input && input.url) || '';
        if (init && init.method === 'POST' && typeof init.body === 'string' &&
            /\/_dash-update-component$/.test(url.split('?')[0]) && init.body.indexOf('_pages_content') >= 0) {
          var body = JSON.parse(init.body);
          var path = '', search = '';
          (body.inputs || []).forEach(function (inp) {
            if (inp && inp.id === '_pages_location' && inp.property === 'pathname') { path = inp.value || ''; }
            if (inp && inp.id === '_pages_location' && inp.property === 'search') { search = inp.value || ''; }
          });
          if (path.indexOf('/field') === 0) {
            var routes = load(K_ROUTES, {}) || {};
            routes[path + search] = init.body;
            var keys = Object.keys(routes);
            if (keys.length > 4) { delete routes[keys[0]]; }
            save(K_ROUTES, routes);
          }
        }
      } catch (e) { /* never get in Dash's way */ }
      return original.apply(this, arguments);
    };
  })();

  var swStarted = false;
  function setupServiceWorker() {
    if (swStarted || !('serviceWorker' in navigator) || !window.isSecureContext) { return; }
    if (window.location.pathname.indexOf('/field') !== 0) { return; }
    swStarted = true;
    var sw = navigator.serviceWorker;
    sw.addEventListener('message', function (ev) {
      if (ev.data && ev.data.type === 'warmed') {
        document.documentElement.setAttribute('data-field-offline', 'ready');
      }
    });
    var warmTimer = null;
    var warmSoon = function () {
      if (warmTimer) { clearTimeout(warmTimer); }
      warmTimer = setTimeout(warm, 1200);
    };
    sw.addEventListener('controllerchange', warmSoon);
    sw.register(API + '/field/sw.js', { scope: '/field' }).then(function () {
      if (sw.controller) { warmSoon(); }
    }).catch(function () { swStarted = false; });
  }

  function warm() {
    var ctl = navigator.serviceWorker && navigator.serviceWorker.controller;
    if (!ctl || navigator.onLine === false) { return; }
    var origin = window.location.origin;
    var urls = [window.location.href, origin + '/_dash-layout', origin + '/_dash-dependencies'];
    (performance.getEntriesByType ? performance.getEntriesByType('resource') : []).forEach(function (e) {
      if (e.name.indexOf(origin + '/') === 0 && e.name.indexOf(origin + '/api/') !== 0 &&
          e.name.indexOf('_dash-update-component') < 0 && urls.indexOf(e.name) < 0) {
        urls.push(e.name);
      }
    });
    var routes = load(K_ROUTES, {}) || {};
    ctl.postMessage({ type: 'warm', urls: urls, routes: Object.keys(routes).map(function (k) { return routes[k]; }) });
  }

  document.addEventListener('click', onClick);
  document.addEventListener('input', onInput);
  document.addEventListener('change', onChange);
  document.addEventListener('submit', onSubmit);
  window.addEventListener('online', function () { S.backoff = 0; renderNet(); retryNow(); fetchMine(); });
  window.addEventListener('offline', function () { renderNet(); });
  window.addEventListener('storage', function (ev) {
    if (ev.key === K_REPORTS && onFieldPage()) { renderQueueViews(); }
  });
  document.addEventListener('visibilitychange', function () {
    if (document.visibilityState === 'visible') { tick(); }
  });
  setInterval(tick, 1000);

  /* Queue another field action (POST `path` with `body`, sent once like a report: its report_id). */
  function enqueue(item) {
    var s = session();
    if (!s) { return null; }
    var full = Object.assign({ report_id: newReportId(), user: s.username, created_at: Date.now(),
                               state: 'queued', attempts: 0 }, item);
    updateReports(function (list) { list.push(full); });
    renderQueueViews();
    drain();
    return full;
  }

  window.wartimeField = {
    boot: boot,
    drain: drain,
    enqueue: enqueue,
    items: reports,
    tr: tr,
    queued: function () { return queued().length; },
    /* What the page shows now (assets/field-households.js follows the picked grid and operation). */
    pick: function () { return { grid: S.grid, op: S.op, mine: S.mine }; },
    newId: newReportId
  };
})();
