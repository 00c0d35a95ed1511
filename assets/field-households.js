/*
 * Field page (/field): the household list (不漏一户) of a central household or grid worker.
 *
 * For the grid and operation picked on the page (assets/field.js), the households come from
 * GET /api/v1/operations/{op}/households?grid=CODE (DESIGN §7.3: names and phones as the server
 * gives them, masked unless the caller's role allows) and are kept in localStorage, so the list
 * shows with no network too. One tap gives a household its status — reached, evacuated, safe in
 * place, absent, refused, unreachable — and a tap on 更正 / "Correct" gives it another one.
 *
 * Every tap is one POST /operations/{op}/households {report_id, household, status} through
 * field.js's offline queue (wartimeField.enqueue): saved on the phone first, sent in order once the
 * network allows, retried with the same report_id, so the server counts it once however often it is
 * resent. Until the server's list says otherwise the household shows the status tapped, marked as
 * waiting or sent; the figures above the list are the server's.
 *
 * Order: households with no status first, vulnerable ones first among them, then by code.
 * Stable hooks: #field-hh[data-op][data-grid]; [data-hh-unreached] and [data-hh-total] with
 * data-value (the server's); each household li[data-household=CODE][data-status=STATUS|unreached]
 * ([data-pending] while its last tap waits on the phone); buttons [data-action=hh-status]
 * [data-household][data-status], [data-action=hh-correct]. Text only ever via textContent.
 */
(function () {
  'use strict';

  var API = '/api/v1';
  var K_LISTS = 'wartime.field.households.v1';
  var KEEP_LISTS = 8;
  var POLL_MS = 20000;
  var STATUSES = ['reached', 'evacuated', 'safe_in_place', 'absent', 'refused', 'unreachable'];
  var H = { key: '', data: null, at: 0, live: false, busy: false, polled: 0, filter: 'all',
            editing: {}, shown: '', acked: -1, failed: false };

  function field() { return window.wartimeField || null; }
  function tr(key, fmt) { var f = field(); return f ? f.tr(key, fmt) : key; }

  function load(key, dflt) {
    try { var raw = window.localStorage.getItem(key); return raw ? JSON.parse(raw) : dflt; } catch (e) { return dflt; }
  }

  function session() {
    var s = load('session', null);
    return s && typeof s === 'object' && s.token ? s : null;
  }

  function el(tag, cls, text, attrs) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined && text !== null) { e.textContent = String(text); }
    Object.keys(attrs || {}).forEach(function (k) {
      if (attrs[k] !== null && attrs[k] !== undefined && attrs[k] !== false) { e.setAttribute(k, attrs[k] === true ? '' : String(attrs[k])); }
    });
    return e;
  }

  function pad(n) { return (n < 10 ? '0' : '') + n; }
  function clock(ms) { var d = new Date(ms); return pad(d.getHours()) + ':' + pad(d.getMinutes()); }

  function path(op) { return '/operations/' + encodeURIComponent(op) + '/households'; }

  /* ---------------------------------------------------------------- data */

  function keyOf(user, op, grid) { return user + '|' + op + '|' + grid; }

  function kept(key) {
    var all = load(K_LISTS, {}) || {};
    return all[key] || null;
  }

  function keep(key, entry) {
    try {
      var all = load(K_LISTS, {}) || {};
      all[key] = entry;
      var keys = Object.keys(all).sort(function (a, b) { return (all[a].at || 0) - (all[b].at || 0); });
      while (keys.length > KEEP_LISTS) { delete all[keys.shift()]; }
      window.localStorage.setItem(K_LISTS, JSON.stringify(all));
    } catch (e) { /* storage full: the memory copy stays */ }
  }

  function fetchList(op, grid) {
    var s = session();
    if (!s || H.busy) { return; }
    var key = keyOf(s.username, op, grid);
    H.busy = true;
    H.polled = Date.now();
    var url = API + path(op) + '?grid=' + encodeURIComponent(grid) + '&limit=500';
    window.fetch(url, { headers: { 'Authorization': 'Bearer ' + s.token }, cache: 'no-store', credentials: 'omit' })
      .then(function (r) { return r.json().then(function (d) { return { status: r.status, data: d }; }, function () { return { status: r.status, data: null }; }); })
      .then(function (res) {
        H.busy = false;
        if (key !== H.key) { return; }
        if (res.status === 200 && res.data && Array.isArray(res.data.items)) {
          H.data = res.data;
          H.at = Date.now();
          H.live = true;
          H.failed = false;
          keep(key, { at: H.at, data: H.data });
        } else if (res.status !== 401) {
          H.failed = !H.data;
        }
        render();
      }, function () { H.busy = false; H.live = false; render(); });
  }

  /* This user's taps on households of the operation, oldest first (from field.js's queue). */
  function taps(op) {
    var f = field();
    var s = session();
    var p = path(op);
    return (f ? f.items() : []).filter(function (r) { return s && r.user === s.username && r.path === p && r.household; });
  }

  /* The status a household shows: the server's, unless a tap made after the list was read says otherwise. */
  function shown(h, mine) {
    var out = { status: h.status || 'unreached', pending: false, sent: false, refused: null };
    mine.forEach(function (r) {
      if (r.household !== h.code) { return; }
      if (r.state === 'refused') { if (r.created_at > H.at - 1) { out.refused = r; } return; }
      /* A household the server still lists without a status cannot have lost one: until the projector
         has applied an acknowledged tap, the tap is what the household shows. */
      var serverBlank = !h.status || h.status === 'unreached';
      if (r.state === 'queued' || r.created_at > H.at || (r.acked_at && r.acked_at > H.at) || serverBlank) {
        out.status = r.status;
        out.pending = r.state === 'queued';
        out.sent = r.state === 'acked';
        out.refused = null;
      }
    });
    return out;
  }

  function vulnerableOf(h) {
    var v = h.vulnerable;
    if (Array.isArray(v)) { return v; }
    return v ? String(v).split(';').filter(Boolean) : [];
  }

  /* ---------------------------------------------------------------- view */

  function section() {
    var app = document.getElementById('field-app');
    if (!app) { return null; }
    var box = document.getElementById('field-hh');
    if (box && app.contains(box)) { return box; }
    box = el('section', 'field-card field-hh', null, { id: 'field-hh', 'aria-live': 'polite' });
    var after = document.getElementById('field-progress');
    if (after && after.parentNode === app) { app.insertBefore(box, after.nextSibling); } else { app.appendChild(box); }
    H.shown = '';
    return box;
  }

  function drop() {
    var box = document.getElementById('field-hh');
    if (box) { box.parentNode.removeChild(box); }
    H.shown = '';
  }

  function errorText(r) {
    if (r.status === 403) { return tr('field.err.403'); }
    if (r.status === 404) { return tr('field.err.404'); }
    if (r.code === 'operation_closed') { return tr('field.err.closed'); }
    return r.error || ('HTTP ' + r.status);
  }

  function statusButtons(code, current) {
    var wrap = el('div', 'fh-buttons', null, { role: 'group', 'aria-label': tr('field.hh.choose') });
    STATUSES.forEach(function (st) {
      wrap.appendChild(el('button', 'fh-btn fh-btn-' + st + (st === current ? ' fh-btn-on' : ''), tr('hh.status.' + st),
        { type: 'button', 'data-action': 'hh-status', 'data-household': code, 'data-status': st }));
    });
    return wrap;
  }

  function card(h, state, op) {
    var vul = vulnerableOf(h);
    var done = state.status !== 'unreached';
    var li = el('li', 'fh-item ' + (done ? 'fh-done fh-st-' + state.status : 'fh-unreached') + (vul.length ? ' fh-vul' : ''),
      null, { 'data-household': h.code, 'data-status': state.status, 'data-pending': state.pending,
              'data-vulnerable': vul.length ? vul.join(';') : false });
    var top = el('div', 'fh-top');
    top.appendChild(el('span', 'fh-head', h.head || h.code));
    if (h.size) { top.appendChild(el('span', 'fh-size', tr('field.hh.size', { n: h.size }))); }
    vul.forEach(function (v) { top.appendChild(el('span', 'fh-tag', tr('hh.vuln.' + v))); });
    li.appendChild(top);
    li.appendChild(el('div', 'fh-addr', [h.address, h.code].filter(Boolean).join(' · ')));
    if (h.phone) {
      var ph = el('div', 'fh-phone');
      if (/^[0-9+\- ]+$/.test(String(h.phone))) {
        ph.appendChild(el('a', 'fh-call', tr('field.hh.call') + ' ' + h.phone, { href: 'tel:' + String(h.phone).replace(/[^0-9+]/g, '') }));
      } else {
        ph.textContent = h.phone;  /* masked: shown, not dialled */
      }
      li.appendChild(ph);
    }
    if (!done || H.editing[h.code]) {
      li.appendChild(statusButtons(h.code, done ? state.status : null));
      if (done) {
        li.appendChild(el('button', 'fh-linkbtn', tr('field.hh.cancel'), { type: 'button', 'data-action': 'hh-cancel', 'data-household': h.code }));
      }
    } else {
      var row = el('div', 'fh-state');
      row.appendChild(el('span', 'fh-badge fh-badge-' + state.status, tr('hh.status.' + state.status)));
      if (state.pending) { row.appendChild(el('span', 'fh-wait', tr('field.hh.queued'))); }
      else if (state.sent) { row.appendChild(el('span', 'fh-ok', tr('field.hh.sent'))); }
      row.appendChild(el('button', 'fh-linkbtn', tr('field.hh.correct'), { type: 'button', 'data-action': 'hh-correct', 'data-household': h.code }));
      li.appendChild(row);
    }
    if (state.refused) { li.appendChild(el('div', 'fh-error', tr('field.hh.refused', { reason: errorText(state.refused) }))); }
    return li;
  }

  function render() {
    var f = field();
    var s = session();
    var pick = f && f.pick ? f.pick() : null;
    var op = pick && pick.op;
    var grid = pick && pick.grid;
    if (!s || !op || !grid || !document.getElementById('field-root') || !(pick.mine && pick.mine.can_report !== false)) {
      drop();
      return;
    }
    var key = keyOf(s.username, op, grid);
    if (key !== H.key) {
      H.key = key;
      var k = kept(key);
      H.data = k ? k.data : null;
      H.at = k ? k.at : 0;
      H.live = false;
      H.failed = false;
      H.editing = {};
      H.filter = 'all';
      H.polled = 0;
    }
    var mine = taps(op);
    var acked = mine.filter(function (r) { return r.state !== 'queued'; }).length;
    if (acked !== H.acked) {
      if (H.acked >= 0 && navigator.onLine !== false) { setTimeout(function () { H.polled = 0; }, 400); }
      H.acked = acked;
    }
    if (navigator.onLine !== false && Date.now() - H.polled > POLL_MS) { fetchList(op, grid); }
    var d = H.data;
    if (!d && H.failed) { drop(); return; }  /* no list for this operation here (or no roster): nothing to show */
    if (d && !d.total && !(d.items || []).length) { drop(); return; }
    var sig = JSON.stringify([tr('field.hh.title'), key, H.at, H.live, H.filter, H.editing,
      mine.map(function (r) { return [r.report_id, r.state]; }), navigator.onLine]);
    var box = section();
    if (!box) { return; }
    if (sig === H.shown && box.firstChild) { return; }  /* redraw only on change: a tap never hits a stale button */
    H.shown = sig;
    box.setAttribute('data-op', op);
    box.setAttribute('data-grid', grid);
    while (box.firstChild) { box.removeChild(box.firstChild); }
    box.appendChild(el('h2', 'field-h2', tr('field.hh.title')));
    if (!d) { box.appendChild(el('p', 'field-muted', tr('field.hh.loading'))); return; }
    var items = (d.items || []).map(function (h) { return { h: h, s: shown(h, mine), v: vulnerableOf(h).length > 0 }; });
    var unreachedVul = items.filter(function (x) { return x.v && x.s.status === 'unreached'; }).length;
    var sum = el('div', 'fh-summary');
    sum.appendChild(el('strong', 'fh-unreached-n', String(d.unreached || 0), { 'data-hh-unreached': '', 'data-value': d.unreached || 0 }));
    sum.appendChild(el('span', 'fh-unreached-label', tr('hh.status.unreached')));
    sum.appendChild(el('span', 'fh-total', tr('field.hh.summary', { total: d.total || 0, unreached: d.unreached || 0 }),
                       { 'data-hh-total': '', 'data-value': d.total || 0 }));
    var waiting = items.filter(function (x) { return x.s.pending; }).length;
    if (waiting) { sum.appendChild(el('span', 'fh-wait', tr('field.hh.pending', { n: waiting }))); }
    box.appendChild(sum);
    if (unreachedVul) { box.appendChild(el('div', 'fh-alert', tr('field.hh.vulnerable_unreached', { n: unreachedVul }))); }
    if (!H.live && H.at) { box.appendChild(el('div', 'field-muted fh-cached', tr('field.hh.cached', { t: clock(H.at) }))); }
    var centrals = {};
    items.forEach(function (x) { if (x.h.central_household) { centrals[x.h.central_household] = true; } });
    var filters = ['all', 'unreached', 'vulnerable'].concat(Object.keys(centrals).length > 1 ? Object.keys(centrals).sort() : []);
    var chips = el('div', 'fh-filters', null, { role: 'tablist' });
    filters.forEach(function (fl) {
      var label = fl === 'all' || fl === 'unreached' || fl === 'vulnerable' ? tr('field.hh.filter.' + fl) : tr('field.hh.filter.central', { code: fl });
      chips.appendChild(el('button', 'fh-filter' + (H.filter === fl ? ' fh-filter-on' : ''), label,
        { type: 'button', role: 'tab', 'aria-selected': H.filter === fl ? 'true' : 'false', 'data-action': 'hh-filter', 'data-filter': fl }));
    });
    box.appendChild(chips);
    var list = items.filter(function (x) {
      if (H.filter === 'unreached') { return x.s.status === 'unreached'; }
      if (H.filter === 'vulnerable') { return x.v; }
      if (H.filter !== 'all') { return x.h.central_household === H.filter; }
      return true;
    });
    list.sort(function (a, b) {
      var ua = a.s.status === 'unreached' ? 0 : 1, ub = b.s.status === 'unreached' ? 0 : 1;
      if (ua !== ub) { return ua - ub; }
      if (a.v !== b.v) { return a.v ? -1 : 1; }
      return a.h.code < b.h.code ? -1 : a.h.code > b.h.code ? 1 : 0;
    });
    var ol = el('ol', 'fh-list');
    list.forEach(function (x) { ol.appendChild(card(x.h, x.s, op)); });
    box.appendChild(ol);
    var more = (d.total || 0) - (d.items || []).length;
    if (more > 0) { box.appendChild(el('p', 'field-muted', tr('field.hh.more', { n: more }))); }
  }

  /* ---------------------------------------------------------------- actions */

  function mark(code, status) {
    var f = field();
    var pick = f && f.pick ? f.pick() : null;
    if (!f || !pick || !pick.op || !H.data || STATUSES.indexOf(status) < 0) { return; }
    var h = (H.data.items || []).filter(function (x) { return x.code === code; })[0];
    if (!h) { return; }
    var op = (pick.mine && pick.mine.operations || []).filter(function (o) { return o.id === pick.op; })[0] || {};
    var g = (pick.mine && pick.mine.grids || []).filter(function (x) { return x.code === pick.grid; })[0] || {};
    var id = f.newId();
    f.enqueue({ report_id: id, op: pick.op, op_name: op.name || pick.op, grid: pick.grid, grid_name: g.name || pick.grid,
                path: path(pick.op), household: code, status: status, label: 'hh.status.' + status,
                subject: (h.head || '') + ' ' + code,
                body: { report_id: id, household: code, status: status } });
    delete H.editing[code];
    render();
  }

  document.addEventListener('click', function (ev) {
    var t = ev.target && ev.target.closest ? ev.target.closest('#field-hh [data-action]') : null;
    if (!t) { return; }
    var action = t.getAttribute('data-action');
    var code = t.getAttribute('data-household');
    if (action === 'hh-status') { ev.preventDefault(); mark(code, t.getAttribute('data-status')); }
    else if (action === 'hh-correct') { H.editing[code] = true; render(); }
    else if (action === 'hh-cancel') { delete H.editing[code]; render(); }
    else if (action === 'hh-filter') { H.filter = t.getAttribute('data-filter') || 'all'; render(); }
  });
  window.addEventListener('online', function () { H.polled = 0; render(); });
  window.addEventListener('offline', function () { H.live = false; render(); });
  window.addEventListener('storage', function (ev) { if (ev.key === 'wartime.field.reports.v1') { render(); } });
  setInterval(render, 1000);
})();
