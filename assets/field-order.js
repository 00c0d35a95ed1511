/*
 * Field page (/field): the secretary's order (战时命令) and the one button 我已到岗 / "I am on post".
 *
 * The order comes from GET /api/v1/field/order (grid, incident, level, who commands above, how far
 * the secretary has come) and is kept in localStorage, so it shows with no network too. It is polled
 * while the page is open, so a switch reaches an open page within seconds.
 *
 * Opening the order marks it acknowledged (POST /secretaries/{grid}/acknowledged); the button sends
 * POST /secretaries/{grid}/on-post {report_id, location?}. Both go through field.js's offline queue
 * (wartimeField.enqueue): saved on the phone first, sent once the network allows, retried with the
 * same report_id, so the server counts a confirmation once however often it is resent. The location
 * is asked for with a short timeout and left out when refused; the server keeps it coarse.
 *
 * Stable hooks: #field-order[data-order-grid][data-post-state] (installed | notified | acknowledged |
 * on_post, or `queued` while the confirmation waits on the phone), [data-action=on-post].
 */
(function () {
  'use strict';

  var API = '/api/v1';
  var K_ORDER = 'wartime.field.order.v1';
  var POLL_MS = 10000;
  var GEO_TIMEOUT_MS = 3000;
  var O = { order: null, user: null, at: 0, busy: false, acked: {}, shown: '' };

  function load(key, dflt) {
    try { var raw = window.localStorage.getItem(key); return raw ? JSON.parse(raw) : dflt; } catch (e) { return dflt; }
  }

  function session() {
    var s = load('session', null);
    return s && typeof s === 'object' && s.token ? s : null;
  }

  function field() { return window.wartimeField || null; }

  function tr(key, fmt) { var f = field(); return f ? f.tr(key, fmt) : key; }

  function el(tag, cls, text, attrs) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined && text !== null) { e.textContent = String(text); }
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    return e;
  }

  /* This secretary's queued or sent field actions for the grid (from field.js's queue). */
  function actions(grid, path) {
    var f = field();
    var s = session();
    return (f ? f.items() : []).filter(function (r) {
      return s && r.user === s.username && r.grid === grid && r.path === path;
    });
  }

  function onPostPath(grid) { return '/secretaries/' + encodeURIComponent(grid) + '/on-post'; }
  function ackPath(grid) { return '/secretaries/' + encodeURIComponent(grid) + '/acknowledged'; }

  function shownState(o) {
    if (o.state === 'on_post') { return 'on_post'; }
    var mine = actions(o.grid, onPostPath(o.grid)).filter(function (r) { return r.installed_at === o.installed_at; });
    if (mine.some(function (r) { return r.state === 'acked'; })) { return 'on_post'; }
    if (mine.some(function (r) { return r.state === 'queued'; })) { return 'queued'; }
    return o.state;
  }

  function render() {
    var root = document.getElementById('field-root');
    var app = document.getElementById('field-app');
    if (!root || !app) { return; }
    var box = document.getElementById('field-order');
    var o = O.order;
    var s = session();
    if (!o || !s || O.user !== s.username) {
      if (box) { box.parentNode.removeChild(box); }
      return;
    }
    if (!box) {
      O.shown = '';
      box = el('section', 'field-card field-order', null, { id: 'field-order', 'aria-live': 'polite' });
      root.insertBefore(box, app);
    }
    var state = shownState(o);
    var sig = [o.grid, o.installed_at, state, O.busy, tr('field.order.title')].join('|');
    if (sig === O.shown && box.firstChild) { return; }  /* redraw only on change: a tap never hits a stale button */
    O.shown = sig;
    box.setAttribute('data-order-grid', o.grid);
    box.setAttribute('data-post-state', state);
    while (box.firstChild) { box.removeChild(box.firstChild); }
    box.appendChild(el('div', 'field-order-kind', tr('field.order.title')));
    box.appendChild(el('h2', 'field-order-grid', o.grid_name));
    box.appendChild(el('div', 'field-order-what',
      tr(o.incident || 'other') + ' · ' + tr('level.' + (o.level || 'IV')) + ' · ' + o.scope_name));
    box.appendChild(el('div', 'field-order-role',
      tr(o.acting ? 'field.order.acting' : 'field.order.installed', { person: o.person })));
    var above = (o.commanders || []).slice(0, 3).map(function (c) {
      return c.name + (c.leader ? '（' + c.leader + '）' : '');
    });
    if (above.length) { box.appendChild(el('div', 'field-order-above', tr('field.order.above') + above.join(' · '))); }
    box.appendChild(el('div', 'field-order-state field-order-state-' + state, tr('field.order.state.' + state)));
    if (state !== 'on_post' && state !== 'queued') {
      var btn = el('button', 'field-submit field-order-btn', tr('field.order.button'),
                   { type: 'button', 'data-action': 'on-post', 'data-grid': o.grid });
      if (O.busy) { btn.setAttribute('disabled', ''); }
      box.appendChild(btn);
    }
  }

  function acknowledge(o) {
    if (o.state !== 'installed' && o.state !== 'notified') { return; }
    var key = o.grid + '@' + o.installed_at;
    if (O.acked[key] || actions(o.grid, ackPath(o.grid)).some(function (r) { return r.installed_at === o.installed_at; })) {
      return;
    }
    O.acked[key] = true;
    var f = field();
    var notes = o.notifications || [];
    if (f) {
      f.enqueue({ grid: o.grid, grid_name: o.grid_name, path: ackPath(o.grid), installed_at: o.installed_at,
                  label: 'field.order.opened', body: { notification: notes.length ? notes[notes.length - 1].id : '' } });
    }
  }

  function fetchOrder() {
    var s = session();
    if (!s || !document.getElementById('field-root')) { return; }
    O.at = Date.now();
    window.fetch(API + '/field/order', { headers: { 'Authorization': 'Bearer ' + s.token }, cache: 'no-store' })
      .then(function (r) { return r.status === 200 ? r.json() : null; })
      .then(function (data) {
        if (!data) { return; }
        O.order = data.order || null;
        O.user = s.username;
        try { window.localStorage.setItem(K_ORDER, JSON.stringify({ username: s.username, order: O.order })); } catch (e) { /* full */ }
        if (O.order) { acknowledge(O.order); }
        render();
      }, function () { /* offline: the kept copy stays on screen */ });
  }

  function confirm(grid) {
    var o = O.order;
    var f = field();
    if (!o || o.grid !== grid || !f || O.busy) { return; }
    O.busy = true;
    render();
    var done = false;
    var send = function (pos) {
      if (done) { return; }
      done = true;
      var body = { report_id: 'onpost-' + grid + '-' + o.installed_at + '-' + Date.now().toString(36) };
      if (pos && pos.coords) {
        body.location = { lat: pos.coords.latitude, lon: pos.coords.longitude, accuracy_m: pos.coords.accuracy };
      }
      f.enqueue({ report_id: body.report_id, grid: grid, grid_name: o.grid_name, path: onPostPath(grid),
                  installed_at: o.installed_at, label: 'field.order.confirmed', body: body });
      O.busy = false;
      render();
    };
    var geo = navigator.geolocation;
    if (geo && window.isSecureContext) {
      setTimeout(function () { send(null); }, GEO_TIMEOUT_MS + 500);
      try {
        geo.getCurrentPosition(send, function () { send(null); },
                               { timeout: GEO_TIMEOUT_MS, maximumAge: 600000, enableHighAccuracy: false });
      } catch (e) { send(null); }
    } else {
      send(null);
    }
  }

  function boot() {
    var s = session();
    if (!s || !document.getElementById('field-root')) { return; }
    if (O.user !== s.username) {
      var kept = load(K_ORDER, null);
      O.order = kept && kept.username === s.username ? kept.order : null;
      O.user = s.username;
      O.at = 0;
    }
    if (Date.now() - O.at > POLL_MS && navigator.onLine !== false) { fetchOrder(); }
    render();
  }

  document.addEventListener('click', function (ev) {
    var t = ev.target && ev.target.closest ? ev.target.closest('[data-action=on-post]') : null;
    if (t) { ev.preventDefault(); confirm(t.getAttribute('data-grid')); }
  });
  window.addEventListener('online', function () { O.at = 0; boot(); });
  window.addEventListener('storage', function (ev) { if (ev.key === 'wartime.field.reports.v1') { render(); } });
  setInterval(boot, 1000);
})();
