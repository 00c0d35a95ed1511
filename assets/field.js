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
 *
 * This file is the core: the session and the grids' data (GET /field/mine), the form's actions,
 * events, boot and the offline page. The rest is split by concern, each served before this file
 * (assets load in name order) and sharing window.wartimeFieldKit (F: the page's state in F.S, every
 * part's functions as F.name):
 *   field-kit.js    settings, state, storage, strings, DOM and fetch helpers
 *   field-queue.js  the queue: the stored list, sending, backoff, one tab at a time
 *   field-view.js   the picked grid and operation, and everything the page draws
 * and beside them, on the same queue: field-order.js (the secretary's order and 我已到岗) and
 * field-households.js (the household list).
 */
(function () {
  'use strict';

  var F = window.wartimeFieldKit;
  var API = F.API, K_REPORTS = F.K_REPORTS, S = F.S, load = F.load, save = F.save, session = F.session,
      tr = F.tr, paren = F.paren, byId = F.byId, onFieldPage = F.onFieldPage, authHeaders = F.authHeaders,
      timedFetch = F.timedFetch, setProps = F.setProps, reports = F.reports, updateReports = F.updateReports,
      queued = F.queued, newReportId = F.newReportId, drain = F.drain, retryNow = F.retryNow,
      enqueue = F.enqueue, findOp = F.findOp, findGrid = F.findGrid, normalisePick = F.normalisePick,
      renderAll = F.renderAll, renderQueueViews = F.renderQueueViews, renderNet = F.renderNet,
      renderMain = F.renderMain, renderForm = F.renderForm, renderMessage = F.renderMessage;

  /* ---------------------------------------------------------------- session and data */

  var K_MINE = 'wartime.field.mine.v1';
  var K_ROUTES = 'wartime.field.routes.v1';
  var POLL_MS = 20000;

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

  F.refreshSoon = refreshSoon;  // for the queue (assets/field-queue.js)
  F.expire = expire;
  F.photoText = photoText;  // for the form (assets/field-view.js)
  F.whereText = whereText;

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
