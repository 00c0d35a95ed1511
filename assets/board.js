/*
 * Command board (/): fills the frame that dashboard/pages/board.py renders and keeps it live.
 *
 * Sources:
 *   GET /api/v1/board?scope&op&lang   the snapshot: structure, names, targets, deadlines, curve,
 *                                     rate, secretaries, alerts, slowest grids, commands, strings.
 *                                     Fetched on boot, on every control change the hub announces,
 *                                     after every reconnect (catch-up) and every 30 s.
 *   GET /api/v1/board/geo/…           the scope's polygons (static, cached by the browser): the cells
 *                                     packed (cells.json), the borders as GeoJSON.
 *   WS  streams/live.py via live.js   live numbers: a full state on (re)connect, deltas after.
 *
 * One update, one instant (DESIGN §7.6): every live message carries its log position; the page
 * applies all of it, then redraws every live panel from it in the same task (KPI tiles, the bars and
 * their Σ, the feed; the curve at most every CURVE_EVERY_MS), and the map's canvas at the next frame
 * (at most every MAP_MIN_MS). `#board[data-as-of]` is that position, every panel says its own and
 * one behind it is `[data-stale]`; once the figures stop moving the snapshot is fetched again so its
 * panels catch up. The map's figure is never rebuilt: the polygons are drawn on a canvas under the
 * Plotly graph (which keeps the axes, pan and zoom, and the alert markers), from geometry fetched
 * once. Every panel shows the age of its last confirmed update; when the link is lost the board
 * says so and dims its numbers. Text from the registry or the field is only ever set with textContent.
 *
 * Also served, before this file (assets load in name order): board-defer-plotly.js (Plotly after
 * the map), board-geo.js (packing and hit test of the polygons), board-position.js (log positions).
 */
(function () {
  'use strict';

  var API = '/api/v1';
  var SNAPSHOT_EVERY_MS = 30000;
  var SNAPSHOT_RETRY_MS = 5000;
  var SNAPSHOT_AFTER_GEO_MS = 1500;
  var CONTROL_EVERY_MS = 5000;
  var MAP_BATCH_MS = 2500;
  var FADE_EVERY_MS = 15000;
  var CHART_EVERY_MS = 1000;
  var CURVE_EVERY_MS = 3000;
  var MAP_MIN_MS = 400;
  var QUIET_MS = 1500;
  var SNAPSHOT_QUIET_MS = 3000;
  var HOT_MS = 9000;
  var BUMP_EVERY_MS = 4000;
  var CHARTS_WAIT_MS = 20000;
  var FEED_SHOW = 14;
  var FADE_MS = [10 * 60000, 30 * 60000, 2 * 3600000];
  var LIVE_PANELS = ['kpi', 'map', 'bars', 'feed'];
  var SNAP_PANELS = ['sec', 'alerts', 'slow', 'curve'];
  var PANELS = ['kpi', 'sec', 'alerts', 'map', 'feed', 'bars', 'curve', 'slow'];
  var PANEL_STREAMS = {sec: ['~'], alerts: ['~']};  // what a panel's figures come from (default: every stream)
  // Colour bands are the server's (dashboard/components/bands.py): the config carries the palette, the
  // ramp and legend, the bands that never fade and every band's text; the hub and the snapshot send
  // each cell's and each bar's band. Nothing here decides a band.

  var B = null;

  var releasePlotly = window.wartimeReleasePlotly;  // assets/board-defer-plotly.js

  function hasPlotly() { return !!(window.Plotly && window.Plotly.relayout); }

  // -- small helpers ------------------------------------------------------------------------

  function el(tag, cls, text, attrs) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined && text !== null) { e.textContent = String(text); }
    if (attrs) { Object.keys(attrs).forEach(function (k) { e.setAttribute(k, attrs[k]); }); }
    return e;
  }

  function $(id) { return document.getElementById(id); }

  function L(key, params) {
    var s = (B && B.labels && B.labels[key]) || key;
    if (params) {
      Object.keys(params).forEach(function (k) { s = s.split('{' + k + '}').join(String(params[k])); });
    }
    return s;
  }

  function locale() { return B && B.lang === 'en' ? 'en-US' : 'zh-CN'; }

  // Punctuation of the wall's language: full-width in Chinese, ASCII in English.
  function colon() { return B && B.lang === 'en' ? ': ' : '：'; }

  function paren(text) { return B && B.lang === 'en' ? ' (' + text + ')' : '（' + text + '）'; }

  function fmt(n) {
    if (n === null || n === undefined || isNaN(n)) { return '—'; }
    return Math.round(n).toLocaleString(locale());
  }

  function pct(done, target) {
    if (!target) { return null; }
    return done * 100 / target;
  }

  function fmtPct(p) {
    if (p === null) { return '—'; }
    return (p >= 99.95 && p < 100 ? 99.9 : p).toFixed(1) + '%';
  }

  function serverNow() { return Date.now() - (B ? B.skew : 0); }

  function pad(n) { return (n < 10 ? '0' : '') + n; }

  function fmtTime(ms, withDate) {
    var d = new Date(ms);
    var hm = pad(d.getHours()) + ':' + pad(d.getMinutes());
    return withDate ? pad(d.getMonth() + 1) + '-' + pad(d.getDate()) + ' ' + hm : hm + ':' + pad(d.getSeconds());
  }

  function fmtAgo(ms) {
    var s = Math.max(0, Math.round(ms / 1000));
    if (s < 60) { return L('board.ago_s', {n: s}); }
    if (s < 3600) { return L('board.ago_m', {n: Math.floor(s / 60)}); }
    if (s < 86400) { return L('board.ago_h', {n: Math.floor(s / 3600)}); }
    return L('board.ago_d', {n: Math.floor(s / 86400)});
  }

  function fmtSpan(ms) {
    var m = Math.round(Math.abs(ms) / 60000);
    var d = Math.floor(m / 1440);
    var h = Math.floor((m % 1440) / 60);
    var mm = m % 60;
    if (B.lang === 'en') {
      return (d ? d + ' d ' : '') + (d || h ? h + ' h ' : '') + (d ? '' : mm + ' min');
    }
    return (d ? d + '天' : '') + (d || h ? h + '小时' : '') + (d ? '' : mm + '分');
  }

  function fmtElapsed(ms) {
    var s = Math.max(0, Math.floor(ms / 1000));
    var d = Math.floor(s / 86400);
    var rest = pad(Math.floor((s % 86400) / 3600)) + ':' + pad(Math.floor((s % 3600) / 60)) + ':' + pad(s % 60);
    if (!d) { return rest; }
    return (B.lang === 'en' ? d + ' d ' : d + '天 ') + rest;
  }

  function clear(node) { while (node && node.firstChild) { node.removeChild(node.firstChild); } }

  function setProps(id, props) {
    var dc = window.dash_clientside;
    if (dc && dc.set_props) {
      try { dc.set_props(id, props); } catch (e) { console.warn(e); }
    }
  }

  function graph(id) {
    var g = $(id);
    return g ? g.querySelector('.js-plotly-plot') : null;
  }

  function api(path) {
    return fetch(API + path, {headers: {Authorization: 'Bearer ' + B.token}, cache: 'no-cache'});
  }

  // -- navigation (history push; Dash pages renders the frame for the new query) ----------------

  function pick(what, value) {
    // A selector changed: go there, unless it is where the board already is (selectors are also set by code).
    if (!B || !B.snap) { return; }
    if (what === 'scope' && value && value !== B.snap.scope.code) { navigate({scope: value}); }
    if (what === 'op' && (value || null) !== (B.cfg.op || null)) { navigate({op: value || null}); }
    if (what === 'lang') { navigate({lang: B.lang === 'en' ? 'zh-CN' : 'en'}); }
  }

  function navigate(patch) {
    var q = new URLSearchParams(window.location.search);
    Object.keys(patch).forEach(function (k) {
      if (patch[k] === null || patch[k] === undefined || patch[k] === '') { q.delete(k); } else { q.set(k, patch[k]); }
    });
    if (patch.lang) { setProps('lang', {data: patch.lang}); }
    var s = q.toString();
    clearMapMarks();  // the map that is complete is this query's, not the next one's
    window.history.pushState({}, '', window.location.pathname + (s ? '?' + s : ''));
    window.dispatchEvent(new CustomEvent('_dashprivate_pushstate'));
  }

  // -- boot / stop -------------------------------------------------------------------------------

  function boot(session, cfg) {
    var root = $('board-root');
    var token = cfg.token || (session && session.token);
    if (!root || !token) { stop(); return; }
    var key = [cfg.scope, cfg.op, cfg.lang, token].join('|');
    if (B && B.key === key && B.root === root) { return; }
    stop();
    start(root, cfg, token, key);
  }

  function stop() {
    if (!B) { return; }
    B.stopped = true;
    if (B.link) { B.link.close(); }
    B.timers.forEach(function (t) { clearInterval(t); clearTimeout(t); });
    if (B.map.watch) { B.map.watch.disconnect(); }
    B = null;
  }

  function start(root, cfg, token, key) {
    mark('boot');
    B = {
      key: key, root: root, cfg: cfg, token: token, lang: cfg.lang || 'zh-CN', labels: cfg.labels || {},
      stopped: false, timers: [], skew: 0, conn: 'connecting',
      snap: null, live: {}, kids: {}, kidBands: {}, gotState: false, at: null, bandsAt: null, panelAt: {},
      n: 0, bands: [], last: null, fade: null, hot: {}, props: [],
      feed: [], updated: {}, dirty: {bars: false, curve: false, sum: false, feed: false},
      map: {cv: null, added: false, pending: {}, complete: false, view: null, styles: {}, drawn: 0},
      snapTimer: null, tipCache: {}, started: Date.now()
    };
    root.setAttribute('data-conn', 'connecting');
    clearMapMarks();  // React may keep the element across a change of query: the last board's are not ours
    B.geoP = cfg.geo ? fetchGeo(cfg.scope || '~', cfg.geo) : null;
    connectLive();
    if (B.geoP) {
      // The map needs neither the snapshot nor Plotly: it is drawn first. The snapshot is asked for
      // once the polygons are here (or after SNAPSHOT_AFTER_GEO_MS), so that the server, on two cores
      // shared with the wall's browser, does not build both at once.
      waitGeo(B);
      var me = B, asked = false;
      var ask = function () { if (B === me && !asked) { asked = true; loadSnapshot(); } };
      B.geoP.then(ask, ask);
      B.timers.push(setTimeout(ask, SNAPSHOT_AFTER_GEO_MS));
    } else {
      loadSnapshot();
    }
    waitForPlotly();
    B.timers.push(setInterval(tick, 1000));
    B.timers.push(setInterval(flushMap, MAP_BATCH_MS));
    B.timers.push(setInterval(fadeCells, FADE_EVERY_MS));
    B.timers.push(setInterval(drawCharts, CHART_EVERY_MS));
    B.timers.push(setInterval(function () { loadSnapshot(); }, SNAPSHOT_EVERY_MS));
  }

  // -- snapshot ----------------------------------------------------------------------------------

  function loadSnapshot() {
    var me = B;
    if (!me || me.loading) { return; }
    me.loading = true;
    var q = new URLSearchParams();
    if (me.cfg.scope) { q.set('scope', me.cfg.scope); }
    if (me.cfg.op) { q.set('op', me.cfg.op); }
    q.set('lang', me.lang);
    api('/board?' + q.toString()).then(function (r) {
      if (r.status === 401) { throw {auth: true}; }
      if (r.status === 403 || r.status === 404) {
        return r.json().then(function (body) { throw {refused: true, body: body}; });
      }
      if (!r.ok) { throw {status: r.status}; }
      return r.json();
    }).then(function (snap) {
      if (B !== me) { return; }
      me.loading = false;
      mark('snapshot');
      applySnapshot(snap);
    }).catch(function (err) {
      if (B !== me) { return; }
      me.loading = false;
      if (err && err.auth) { return authFailed(); }
      if (err && err.refused) {
        // The server's message is for logs; the wall says it in its own language.
        mapMessage(L('board.forbidden'));
        return;
      }
      clearTimeout(me.snapTimer);
      me.snapTimer = setTimeout(loadSnapshot, SNAPSHOT_RETRY_MS);
      me.timers.push(me.snapTimer);
    });
  }

  function authFailed() {
    if (B.cfg.token) {
      mapMessage(L('login.expired'));
      B.root.setAttribute('data-conn', 'refused');
      return;
    }
    setProps('session', {data: null});
  }

  function applySnapshot(snap) {
    var first = !B.snap;
    B.snap = snap;
    B.snapAt = Date.now();
    B.skew = Date.now() - snap.now;
    var now = serverNow();
    SNAP_PANELS.forEach(function (p) { B.updated[p] = now; });
    if (!B.gotState) {
      // Until the hub's state arrives, the snapshot's totals (and their position) are the best we have.
      B.at = copy(snap.at);
      B.bandsAt = copy(snap.at);
      snap.ops.forEach(function (o) { if (!B.live[o.id]) { B.live[o.id] = o.totals; } });
      snap.children.forEach(function (c) { if (B.kids[c.code] === undefined) { B.kids[c.code] = c.total; } });
    }
    renderHeader();
    renderSelectors();
    renderTiles();
    renderSecretaries();
    renderAlerts();
    renderSlowest();
    renderBarsTitle();
    renderLegend();
    B.dirty.bars = B.dirty.curve = B.dirty.feed = B.dirty.sum = true;
    drawCharts(true);
    renderFeed();
    drawMarkers();
    markInstant();
    if (first) {
      if (!snap.map.has_geometry) {
        // Nothing to draw: say so, and let the rest of the board go on without waiting for a map.
        mapMessage(L('board.no_geometry'));
        B.map.complete = true;
        B.map.marks = {'data-polygons': '0', 'data-map-state': 'complete'};
        markGraph();
        releasePlotly();
        B.dirty.bars = B.dirty.curve = B.dirty.sum = true;
      }
      if (!B.geoP && snap.map.has_geometry) { B.geoP = fetchGeoUrls(snap.map.cells_url, snap.map.outline_url); }
      if (B.geoP) { waitGeo(B); }
    }
  }

  // -- header --------------------------------------------------------------------------------------

  function renderHeader() {
    var s = B.snap;
    $('board-county').textContent = s.county.name;
    var badge = $('board-mode');
    badge.setAttribute('data-mode', s.mode.mode);
    badge.textContent = L(s.mode.mode);
    var inc = $('board-incident');
    if (s.mode.mode === 'wartime') {
      inc.textContent = L(s.mode.incident || 'other') + ' · ' + L('level.' + (s.mode.level || 'IV')) + L('board.response');
    } else if (s.mode.wartime_grids) {
      inc.textContent = L('board.partial', {n: fmt(s.mode.wartime_grids)});
    } else {
      inc.textContent = '';
    }
    var crumbs = $('board-crumbs');
    clear(crumbs);
    s.scope.path.forEach(function (p, i) {
      if (i) { crumbs.appendChild(el('span', 'b-crumb-sep', '›')); }
      var last = i === s.scope.path.length - 1;
      var a = el(last ? 'span' : 'a', last ? 'b-crumb b-crumb-here' : 'b-crumb', p.name);
      if (!last) {
        a.href = '#';
        a.addEventListener('click', function (ev) { ev.preventDefault(); navigate({scope: p.code}); });
      }
      crumbs.appendChild(a);
    });
  }

  function renderSelectors() {
    var s = B.snap;
    var opts = [];
    var seen = {};
    function add(code, name, depth) {
      if (seen[code]) { return; }
      seen[code] = true;
      opts.push({label: (depth ? '\u3000'.repeat(depth) : '') + name + ' · ' + code, value: code});
    }
    s.scope.path.forEach(function (p, i) { add(p.code, p.name, i); });
    s.children.forEach(function (c) { add(c.code, c.name, s.scope.path.length); });
    setProps('board-scope', {options: opts, value: s.scope.code});
    var ops = [{label: L('board.all_ops'), value: ''}];
    s.choices.forEach(function (c) {
      ops.push({label: c.name + (c.state === 'closed' ? ' (' + L('board.closed') + ')' : ''), value: c.id});
    });
    setProps('board-op', {options: ops, value: B.cfg.op || ''});
  }

  // -- KPI tiles --------------------------------------------------------------------------------------

  function tileTotals(tile) {
    var out = {};
    tile.counters.forEach(function (c) { out[c] = 0; });
    tile.ops.forEach(function (id) {
      var cell = B.live[id] || {};
      tile.counters.forEach(function (c) { out[c] += cell[c] || 0; });
    });
    return out;
  }

  function tileShape(tiles, mapOp) {
    return JSON.stringify([mapOp, tiles.map(function (t) {
      return [t.kind, t.ops, t.name, t.where, t.closed, t.counters, t.targets, t.deadline];
    })]);
  }

  function renderTiles() {
    var s = B.snap;
    var box = $('board-tiles');
    var shape = tileShape(s.tiles, s.view.map_op);
    if (B.tileNodes && B.tileShape === shape && B.tileNodes.length) {
      // Same tiles as before: keep the nodes (and whoever watches them), take the new rates.
      B.tileNodes.forEach(function (t, i) { t.tile = s.tiles[i]; });
      updateTiles();
      return;
    }
    B.tileShape = shape;
    clear(box);
    B.tileNodes = [];
    if (!s.tiles.length) {
      box.appendChild(peacetimeCard());
      return;
    }
    var mapOp = s.view.map_op;
    s.tiles.forEach(function (tile) {
      var main = tile.ops.indexOf(mapOp) >= 0;
      var head = tile.counters[0];
      var card = el('div', 'b-tile' + (main ? ' b-tile-main' : '') + (tile.closed ? ' b-tile-closed' : ''));
      card.setAttribute('data-kind', tile.kind);
      var top = el('div', 'b-tile-top');
      top.appendChild(el('span', 'b-tile-kind', L(tile.kind)));
      top.appendChild(el('span', 'b-tile-where', tile.where + (tile.closed ? ' · ' + L('board.closed') : '')));
      card.appendChild(top);
      card.appendChild(el('div', 'b-tile-label', L(head)));
      var row = el('div', 'b-tile-row');
      var num = el('span', 'b-num b-tile-num', '0', {'data-kpi': head, 'data-value': '0'});
      row.appendChild(num);
      var target = tile.targets[head] || 0;
      row.appendChild(el('span', 'b-tile-of', target ? '/ ' + fmt(target) : ''));
      var pctNode = el('span', 'b-tile-pct', '');
      row.appendChild(pctNode);
      card.appendChild(row);
      var bar = el('div', 'b-bar');
      var fill = el('div', 'b-bar-fill');
      bar.appendChild(fill);
      var paceMark = el('div', 'b-bar-pace');
      bar.appendChild(paceMark);
      card.appendChild(bar);
      var stats = el('div', 'b-tile-stats');
      card.appendChild(stats);
      var subs = [];
      if (tile.counters.length > 1) {
        var sub = el('div', 'b-tile-subs');
        tile.counters.slice(1).forEach(function (c) {
          var item = el('div', 'b-sub-item');
          item.appendChild(el('span', 'b-sub-label', L(c)));
          var v = el('span', 'b-num b-sub-num', '0', {'data-kpi': c, 'data-value': '0'});
          var t = tile.targets[c];
          item.appendChild(v);
          if (t) { item.appendChild(el('span', 'b-sub-of', '/ ' + fmt(t))); }
          sub.appendChild(item);
          subs.push([c, v]);
        });
        card.appendChild(sub);
      }
      box.appendChild(card);
      B.tileNodes.push({tile: tile, main: main, num: num, pct: pctNode, fill: fill, pace: paceMark, stats: stats, subs: subs});
    });
    if (s.tiles.length <= 2) {  // room to spare (not on a small screen: assets/board.css)
      var extra = peacetimeCard(L('board.scope_facts'));
      extra.classList.add('b-peace-extra');
      box.appendChild(extra);
    }
    updateTiles();
  }

  function setKpi(node, value) {
    var v = String(Math.round(value));
    if (node.getAttribute('data-value') === v) { return; }
    node.setAttribute('data-value', v);
    node.textContent = fmt(value);
    // A short glow when the number moves, at most every few seconds (no forced layout).
    var now = Date.now();
    if (node.animate && now - (node._bumped || 0) > BUMP_EVERY_MS) {
      node._bumped = now;
      node.animate([{transform: 'scale(1.04)'}, {transform: 'none'}], {duration: 450});  // compositor only
    }
  }

  function updateTiles(numbersOnly) {
    if (!B.tileNodes) { return; }
    B.panelAt.kpi = copy(B.at);
    var now = serverNow();
    B.tileNodes.forEach(function (t) {
      var tile = t.tile;
      var totals = tileTotals(tile);
      var head = tile.counters[0];
      var done = totals[head];
      var target = tile.targets[head] || 0;
      setKpi(t.num, done);
      var p = pct(done, target);
      t.pct.textContent = p === null ? '' : fmtPct(p);
      t.fill.style.width = (p === null ? 0 : Math.min(100, p)) + '%';
      t.fill.className = 'b-bar-fill' + (p !== null && p >= 100 ? ' b-done' : '');
      if (tile.deadline && target && tile.deadline > tile.launched_at) {
        var expected = Math.min(1, Math.max(0, (now - tile.launched_at) / (tile.deadline - tile.launched_at)));
        t.pace.style.left = (expected * 100) + '%';
        t.pace.style.display = '';
      } else {
        t.pace.style.display = 'none';
      }
      t.subs.forEach(function (pair) { setKpi(pair[1], totals[pair[0]]); });
      if (!numbersOnly) { renderStats(t.stats, tile, done, target, now, t.main); }
    });
  }

  function renderStats(node, tile, done, target, now, main) {
    // Rate, pace needed, projected completion (and how it stands against the deadline), deadline.
    clear(node);
    function stat(label, value, cls, note) {
      var s = el('span', 'b-stat' + (cls ? ' ' + cls : ''));
      s.appendChild(el('span', 'b-stat-label', label));
      s.appendChild(el('span', 'b-stat-value', value));
      if (note) { s.appendChild(el('span', 'b-stat-note', note)); }
      node.appendChild(s);
    }
    var remaining = Math.max(0, target - done);
    var eta = null;
    if (target && remaining === 0) { eta = now; } else if (target && tile.rate_per_h > 0) {
      eta = now + remaining / tile.rate_per_h * 3600000;
    }
    var etaText = eta === null ? (target ? L('board.eta_unknown') : '—') : fmtTime(eta, true);
    var note = '', cls = '';
    if (eta !== null && tile.deadline) {
      var early = tile.deadline - eta;
      note = early >= 0 ? L('board.ahead', {d: fmtSpan(early)}) : L('board.behind', {d: fmtSpan(-early)});
      cls = early >= 0 ? 'b-good' : 'b-bad';
    }
    stat(L('board.rate'), fmt(tile.rate_per_h) + L('board.per_hour'));
    if (main) {
      var need = tile.need_per_h;
      stat(L('board.need'), need !== null && need !== undefined && done < target ? fmt(need) + L('board.per_hour') : '—',
        need > tile.rate_per_h ? 'b-warn' : '');
    }
    stat(L('board.eta'), etaText, cls, note);
    if (main) { stat(L('board.deadline'), tile.deadline ? fmtTime(tile.deadline, true) : L('board.no_deadline')); }
  }

  function peacetimeCard(title) {
    var s = B.snap;
    var p = s.peacetime;
    var card = el('div', 'b-peace');
    card.appendChild(el('div', 'b-peace-title',
      title || (s.mode.mode === 'wartime' ? L('board.no_ops') : L('board.peace_title'))));
    var grid = el('div', 'b-peace-grid');
    function cell(label, value) {
      var c = el('div', 'b-peace-cell');
      c.appendChild(el('div', 'b-num b-peace-num', fmt(value)));
      c.appendChild(el('div', 'b-peace-label', label));
      grid.appendChild(c);
    }
    ['large', 'medium', 'small', 'micro'].forEach(function (lv) {
      if (p.levels[lv]) { cell(L(lv), p.levels[lv]); }
    });
    cell(L('board.population'), p.population);
    cell(L('board.households'), p.households);
    if (p.central_households) { cell(L('board.central_households'), p.central_households); }
    cell(L('board.first_leaders'), s.secretaries.first_leaders);
    card.appendChild(grid);
    return card;
  }

  // -- secretaries, alerts, slowest -------------------------------------------------------------------------

  function renderSecretaries() {
    var s = B.snap.secretaries;
    var box = $('board-sec');
    clear(box);
    var wartime = B.snap.mode.mode === 'wartime' || B.snap.mode.wartime_grids > 0;
    var row = el('div', 'b-sec-row');
    function fig(value, label, cls, key) {
      var f = el('div', 'b-sec-fig ' + cls, null, key ? {'data-sec': key, 'data-value': String(value || 0)} : null);
      f.appendChild(el('span', 'b-num b-sec-num', fmt(value)));
      f.appendChild(el('span', 'b-sec-label', label));
      row.appendChild(f);
    }
    if (wartime) {
      // On post (已到岗) counts the secretaries' own confirmations, never installations (DESIGN §7.2).
      fig(s.on_post || 0, L('board.on_post'), 'b-sec-ok', 'on_post');
      fig(s.acknowledged || 0, L('board.acknowledged'), 'b-sec-acting', 'acknowledged');
      fig(s.installed + s.acting, L('board.installed'), 'b-sec-total', 'installed');
      fig(s.vacant, L('board.vacancies'), s.vacant ? 'b-sec-bad' : 'b-sec-ok');
    } else {
      fig(s.first_leaders, L('board.first_leaders'), 'b-sec-ok');
    }
    fig(s.small, L('board.small_grids'), 'b-sec-total');
    box.appendChild(row);
    if (wartime && s.small) {
      var bar = el('div', 'b-stack');
      var rest = s.installed + s.acting - (s.on_post || 0);
      [[s.on_post || 0, 'b-stack-ok'], [rest, 'b-stack-acting'], [s.vacant, 'b-stack-bad']].forEach(function (p) {
        var seg = el('div', p[1]);
        seg.style.width = (p[0] * 100 / s.small) + '%';
        bar.appendChild(seg);
      });
      box.appendChild(bar);
      if (window.wartimeMobCurve) { window.wartimeMobCurve(box, s, L); }  // assets/board-mobilisation.js
    }
  }

  function renderAlerts() {
    var a = B.snap.alerts;
    var box = $('board-alerts');
    clear(box);
    var waiting = a.waiting === undefined ? a.open : a.waiting;  // an acknowledged alert is no longer waiting
    $('board-alert-count').textContent = waiting ? String(waiting) : '';
    var chips = el('div', 'b-chips');
    Object.keys(a.by_kind).sort().forEach(function (k) {
      var c = el('span', 'b-chip b-chip-' + k);
      c.appendChild(el('span', 'b-chip-label', L(k)));
      c.appendChild(el('span', 'b-chip-n', fmt(a.by_kind[k])));
      chips.appendChild(c);
    });
    box.appendChild(chips);
    if (!a.latest.length) {
      box.appendChild(el('div', 'b-empty b-empty-ok', L('board.no_alerts')));
      return;
    }
    var list = el('ol', 'b-alert-list');
    a.latest.forEach(function (x) {
      var li = el('li', 'b-alert b-alert-' + x.kind + (x.acked_by ? ' b-alert-acked' : ''));
      li.appendChild(el('span', 'b-alert-kind', L(x.kind)));
      var where = el('span', 'b-alert-where');
      where.appendChild(el('span', 'b-alert-name', x.name));
      if (x.town) { where.appendChild(el('span', 'b-alert-town', x.town)); }
      li.appendChild(where);
      li.appendChild(el('span', 'b-alert-age', x.acked_by ? L('board.acked') : fmtAgo(serverNow() - x.raised_at),
        {'data-since': String(x.raised_at)}));
      list.appendChild(li);
    });
    box.appendChild(list);
  }

  function renderSlowest() {
    var s = B.snap.slowest;
    var box = $('board-slow');
    clear(box);
    function column(title, rows, kind, note) {
      var col = el('div', 'b-slow-col');
      col.appendChild(el('div', 'b-slow-title', title));
      if (note) { col.appendChild(el('div', 'b-slow-never', note)); }
      if (!rows.length) { col.appendChild(el('div', 'b-empty', L('board.none'))); }
      var ol = el('ol', 'b-slow-list');
      rows.forEach(function (r) {
        var li = el('li', 'b-slow-row');
        li.addEventListener('click', function () { navigate({scope: r.code}); });
        var name = el('div', 'b-slow-name');
        name.appendChild(el('span', 'b-slow-grid', r.name));
        if (r.town) { name.appendChild(el('span', 'b-slow-town', r.town)); }
        li.appendChild(name);
        var meta = el('div', 'b-slow-meta');
        if (kind === 'lowest') {
          var bar = el('span', 'b-minibar');
          var fill = el('span', 'b-minibar-fill');
          fill.style.width = Math.min(100, r.pct) + '%';
          bar.appendChild(fill);
          meta.appendChild(bar);
          meta.appendChild(el('span', 'b-slow-pct', fmtPct(r.pct)));
        } else {
          meta.appendChild(el('span', 'b-slow-silence', r.last ? fmtAgo(serverNow() - r.last) : L('board.never'),
            r.last ? {'data-since': String(r.last)} : {}));
        }
        meta.appendChild(el('span', r.secretary ? 'b-slow-sec' : 'b-slow-sec b-slow-vacant',
          r.secretary || (r.vacant ? L('vacancy') : '')));
        li.appendChild(meta);
        ol.appendChild(li);
      });
      col.appendChild(ol);
      box.appendChild(col);
      // Only whole rows on the wall: drop the ones the panel has no room for.
      while (ol.lastChild && ol.scrollHeight > ol.clientHeight + 1) { ol.removeChild(ol.lastChild); }
    }
    column(L('board.lowest'), s.lowest, 'lowest', '');
    column(L('board.silent'), s.silent, 'silent', s.never ? L('board.never_count', {n: fmt(s.never)}) : '');
  }

  // -- feed ------------------------------------------------------------------------------------------

  function cellName(i) {
    var p = B.props[i];
    return p ? p.n : '#' + i;
  }

  function cellWhere(i) {
    var p = B.props[i];
    if (!p || p.k === undefined || p.k < 0 || !B.snap) { return ''; }
    var c = B.snap.children[p.k];
    return c && c.code !== p.c ? c.name : '';
  }

  function renderFeed() {
    if (!B.snap || !B.dirty.feed) { return; }
    B.dirty.feed = false;
    B.panelAt.feed = copy(B.at);
    var box = $('board-feed');
    var items = [];
    B.feed.forEach(function (f) { items.push({ms: f[0], report: f}); });
    B.snap.commands.forEach(function (c) { items.push({ms: c.ms, command: c}); });
    items.sort(function (a, b) { return b.ms - a.ms; });
    clear(box);
    if (!items.length) { box.appendChild(el('li', 'b-empty', L('board.no_feed'))); return; }
    var seen = B.feedSeen || {};
    B.feedSeen = {};
    items.slice(0, FEED_SHOW).forEach(function (it) {
      var key = it.command ? 'c' + it.ms + it.command.text : 'r' + it.report.join('|');
      var fresh = !seen[key] && B.feedPrimed;
      B.feedSeen[key] = true;
      var li = el('li', (it.command ? 'b-feed-item b-feed-cmd' : 'b-feed-item') + (fresh ? ' b-feed-new' : ''));
      li.appendChild(el('span', 'b-feed-time', fmtTime(it.ms, false)));
      if (it.command) {
        li.appendChild(el('span', 'b-feed-tag', '⚑'));
        li.appendChild(el('span', 'b-feed-text', it.command.text));
      } else {
        var f = it.report;
        var where = el('span', 'b-feed-text');
        var town = cellWhere(f[1]);
        if (town) { where.appendChild(el('span', 'b-feed-town', town)); }
        where.appendChild(el('span', 'b-feed-grid', cellName(f[1])));
        li.appendChild(where);
        var counts = el('span', 'b-feed-counts');
        Object.keys(f[3]).slice(0, 2).forEach(function (c) {
          var n = f[3][c];
          counts.appendChild(el('span', n < 0 ? 'b-feed-n b-feed-neg' : 'b-feed-n', (n > 0 ? '+' : '') + fmt(n)));
          counts.appendChild(el('span', 'b-feed-c', L(c)));
        });
        li.appendChild(counts);
      }
      box.appendChild(li);
    });
    B.feedPrimed = true;
  }

  // -- charts ------------------------------------------------------------------------------------------

  function renderBarsTitle() {
    var lv = B.snap.children_level;
    $('board-bars-title-text').textContent = lv ? L('board.by_child', {level: L(lv)}) : L('board.by_child', {level: ''});
  }

  function childRows() {
    var s = B.snap;
    var rows = s.children.map(function (c) {
      var live = B.kids[c.code] !== undefined;
      var total = live ? B.kids[c.code] : c.total;
      var band = live && B.kidBands[c.code] !== undefined ? B.kidBands[c.code] : c.band;
      return {code: c.code, name: c.name, total: total, target: c.target, pct: pct(total, c.target), band: band};
    });
    var byPct = rows.some(function (r) { return r.target; });
    rows.sort(function (a, b) {
      return byPct ? ((b.pct || 0) - (a.pct || 0)) || a.name.localeCompare(b.name) : b.total - a.total;
    });
    return {rows: rows, byPct: byPct};
  }

  function rules() { return (B && B.cfg.bands) || {palette: {}, ramp: '', legend: [], unfaded: '', text: {}}; }

  function chartsReady() { return B.map.complete || Date.now() - B.started > CHARTS_WAIT_MS; }

  function drawCharts(force) {
    // The map comes first: charts wait until it is complete (or a few seconds have passed).
    if (!B || !B.snap || !chartsReady()) { return; }
    if (B.dirty.bars || force) { drawBars(); }
    if (B.dirty.sum || force) { drawSum(); }
    if (B.dirty.feed) { renderFeed(); }
    var now = Date.now();
    if ((B.dirty.curve && now - (B.curveAt || 0) > CURVE_EVERY_MS) || force) { drawCurve(); }
    markInstant();
  }

  function chartFont() {
    var fs = parseFloat(getComputedStyle(B.root).fontSize) || 16;
    return Math.round(fs);  // no text of the wall under 1em (assets/board.css)
  }

  function drawBars() {
    // Plain HTML bars, one row per child, kept by code and re-ordered in place.
    var box = $('board-bars');
    if (!box) { return; }
    B.dirty.bars = false;
    B.panelAt.bars = copy(B.at);
    var r = childRows();
    var palette = rules().palette;
    if (!B.barRows || B.barRows.key !== B.snap.scope.code + '|' + B.snap.view.map_op) {
      clear(box);
      B.barRows = {key: B.snap.scope.code + '|' + B.snap.view.map_op, rows: {}};
      if (!r.rows.length) { box.appendChild(el('li', 'b-empty', L('board.none'))); }
    }
    var max = 1;
    r.rows.forEach(function (row) { max = Math.max(max, row.total); });
    r.rows.forEach(function (row, i) {
      var n = B.barRows.rows[row.code];
      if (!n) {
        n = {li: el('li', 'b-barrow'), name: el('span', 'b-barname', row.name), track: el('span', 'b-bartrack'),
          fill: el('span', 'b-barfill'), pct: el('span', 'b-barpct'), of: el('span', 'b-barof')};
        n.track.appendChild(n.fill);
        [n.name, n.track, n.pct, n.of].forEach(function (c) { n.li.appendChild(c); });
        n.li.addEventListener('click', function () { navigate({scope: row.code}); });
        B.barRows.rows[row.code] = n;
      }
      var width = r.byPct ? (row.pct === null ? 0 : Math.min(100, row.pct)) : row.total * 100 / max;
      n.fill.style.width = width + '%';
      n.fill.style.background = palette[row.band] || '';
      n.li.setAttribute('data-child', row.code);
      n.li.setAttribute('data-value', String(row.total));
      n.pct.textContent = r.byPct ? fmtPct(row.pct) : '';
      n.of.textContent = fmt(row.total) + (row.target ? ' / ' + fmt(row.target) : '');
      if (box.children[i] !== n.li) { box.insertBefore(n.li, box.children[i] || null); }
    });
  }

  function drawSum() {
    var s = B.snap;
    if (!s) { return; }
    B.dirty.sum = false;
    var node = $('board-sum');
    clear(node);
    var op = s.view.map_op;
    if (!op || !s.children.length || !B.gotState) { return; }
    var parent = (B.live[op] || {})[s.view.counter] || 0;
    var sum = 0;
    s.children.forEach(function (c) { sum += B.kids[c.code] !== undefined ? B.kids[c.code] : 0; });
    var ok = sum === parent;
    node.className = 'b-sum ' + (ok ? 'b-sum-ok' : 'b-sum-bad');
    node.setAttribute('data-sum-ok', ok ? '1' : '0');
    node.appendChild(el('span', 'b-sum-text', L('board.sum_check', {level: L(s.children_level || 'town'), parent: s.scope.name})));
    node.appendChild(el('span', 'b-sum-value', fmt(sum) + (ok ? ' = ' : ' ≠ ') + fmt(parent)));
    node.appendChild(el('span', 'b-sum-mark', ok ? '✓' : '✗'));
  }

  function mapTile() {
    var s = B.snap;
    if (!s || !s.view.map_op) { return null; }
    for (var i = 0; i < s.tiles.length; i++) {
      if (s.tiles[i].ops.indexOf(s.view.map_op) >= 0) { return s.tiles[i]; }
    }
    return null;
  }

  function drawCurve() {
    var gd = graph('board-curve');
    if (!gd || !hasPlotly()) { return; }
    B.dirty.curve = false;
    B.curveAt = Date.now();
    B.panelAt.curve = copy(B.at);
    var tile = mapTile();
    if (!tile) {
      Plotly.restyle(gd, {x: [[], [], [], []], y: [[], [], [], []]});
      return;
    }
    var head = tile.counters[0];
    var target = tile.targets[head] || 0;
    var xs = [], ys = [];
    tile.curve.forEach(function (p) { xs.push(p[0]); ys.push(p[1]); });
    var now = serverNow();
    var done = tileTotals(tile)[head];
    if (xs.length && now > xs[xs.length - 1]) { xs.push(now); ys.push(Math.max(done, ys[ys.length - 1])); }
    else if (ys.length) { ys[ys.length - 1] = done; }
    var dl = tile.deadline;
    var paceX = [], paceY = [], needX = [], needY = [], tgtX = [], tgtY = [];
    if (target && dl) {
      paceX = [tile.launched_at, dl]; paceY = [0, target];
      if (dl > now && done < target) { needX = [now, dl]; needY = [done, target]; }
      tgtX = [tile.launched_at, dl]; tgtY = [target, target];
    }
    var toDate = function (a) { return a.map(function (ms) { return new Date(ms); }); };
    var top = curveTop(tile.launched_at, now, done, target, dl, paceX.length ? paceY : null, needX, needY);
    var fs = chartFont();
    Plotly.update(gd, {
      x: [toDate(xs), toDate(paceX), toDate(needX), toDate(tgtX)],
      y: [ys, paceY, needY, tgtY]
    }, {
      'font.size': fs, 'margin.l': Math.round(fs * 3.2), 'margin.b': Math.round(fs * 1.9),
      'margin.r': Math.round(fs * 1.2), 'margin.t': Math.round(fs * 0.6),
      'xaxis.range': [new Date(tile.launched_at), new Date(top.x)],
      'yaxis.range': [0, top.y], 'yaxis.dtick': top.y <= 10 ? 1 : null,
      'xaxis.tickformat': top.x - tile.launched_at < 20 * 60000 ? '%H:%M:%S' :
        top.x - tile.launched_at < 86400000 ? '%H:%M' : '%m-%d %H:%M'
    }, [0, 1, 2, 3]);
  }

  function curveTop(launched, now, done, target, dl, paceY, needX, needY) {
    // Scale to what is there: the x-axis runs from launch to a quarter past now (not to a deadline
    // days away), the y-axis to what the curve and the pace lines reach inside it (not to a target
    // of a million while 300 are done); whole numbers on a short axis (never "800m").
    var span = Math.max(60000, now - launched);
    var x = now + span * 0.25;
    if (dl && dl < x) { x = dl + span * 0.03; }
    var at = function (x0, y0, x1, y1) { return x1 > x0 ? y0 + (y1 - y0) * Math.min(1, (x - x0) / (x1 - x0)) : y1; };
    var lines = 0;
    if (paceY && dl) { lines = Math.max(lines, at(launched, 0, dl, target)); }
    if (needX.length) { lines = Math.max(lines, at(needX[0], needY[0], needX[1], needY[1])); }
    // The pace lines are shown up to four times what is done; beyond, they leave by the top.
    var y = Math.max(done, Math.min(lines, 4 * Math.max(done, 5)));
    return {x: x, y: Math.max(5, y * 1.12)};
  }

  function drawMarkers() {
    var gd = plotlyGraph();
    if (!gd || !B.snap || !B.map.complete) { return; }
    var xs = [], ys = [], text = [];
    B.snap.alerts.markers.forEach(function (m) { ys.push(mercY(m[0])); xs.push(m[1]); text.push(L(m[2]) + ' · ' + m[3]); });
    Plotly.restyle(gd, {x: [xs], y: [ys], text: [text]}, [0]);
  }

  function onResize() {
    if (!B) { return; }
    clearTimeout(B.resizeTimer);
    B.resizeTimer = setTimeout(function () {
      if (B && B.map.added) { fitMap(); }
      if (B) { B.dirty.bars = B.dirty.curve = true; drawCharts(true); }
    }, 300);
  }

  // -- legend and map messages ---------------------------------------------------------------------------

  function renderLegend() {
    var s = B.snap;
    var box = $('board-legend');
    clear(box);
    var sub = $('board-map-sub');
    var pal = rules().palette;
    if (s.view.map_op) {
      sub.textContent = L('board.map_of', {name: s.map.op_name, counter: L(s.view.counter)}) + ' · ' +
        L('board.cells', {n: fmt(s.map.cells)});
      var ramp = el('div', 'b-ramp');
      rules().ramp.split('').forEach(function (d) { var sw = el('span', 'b-ramp-step'); sw.style.background = pal[d]; ramp.appendChild(sw); });
      var row = el('div', 'b-legend-row');
      row.appendChild(el('span', 'b-legend-lo', '0%'));
      row.appendChild(ramp);
      row.appendChild(el('span', 'b-legend-hi', '100%'));
      box.appendChild(row);
      var keys = el('div', 'b-legend-keys');
      rules().legend.forEach(function (k) {
        var item = el('span', 'b-legend-key');
        var sw = el('i', 'b-legend-sw');
        sw.style.background = pal[k[0]];
        item.appendChild(sw);
        item.appendChild(el('span', '', k[1]));
        keys.appendChild(item);
      });
      box.appendChild(keys);
      box.appendChild(el('div', 'b-legend-note', L('board.legend_fresh') + ' · ' + L('board.legend_stale')));
    } else {
      sub.textContent = (s.mode.mode === 'wartime' ? L('board.no_ops') : L('board.map_peace')) + ' · ' +
        L('board.cells', {n: fmt(s.map.cells)});
    }
    box.appendChild(el('div', 'b-legend-note', L('board.drill')));
  }

  function mapMessage(text) {
    var m = $('board-map-msg');
    if (m) { m.textContent = text || ''; m.style.display = text ? 'block' : 'none'; }
  }

  // -- the map -------------------------------------------------------------------------------------------

  function fetchGeo(scope, digest) {
    var base = '/board/geo/' + encodeURIComponent(digest) + '/' + encodeURIComponent(scope);
    return fetchGeoUrls(API + base + '/cells.json', API + base + '/outline.geojson');
  }

  function fetchGeoUrls(cellsUrl, outlineUrl) {
    var me = B;
    var get = function (url) {
      return fetch(url, {headers: {Authorization: 'Bearer ' + me.token}}).then(function (r) {
        if (!r.ok) { throw new Error('geo ' + r.status); }
        return r.json();
      });
    };
    return Promise.all([get(cellsUrl), get(outlineUrl)]).catch(function (e) { console.warn(e); return null; });
  }

  // The polygons are drawn on a 2D canvas under the Plotly graph (`#grid-map`, a cartesian figure with
  // hidden axes in lon / Mercator-lat degrees, a transparent background and the alert markers). A
  // software-rendered WebGL map spent seconds per frame on a wall without a GPU; the canvas draws all
  // cells of a county, grouped by colour, in a few tens of milliseconds, needs no Plotly to start (the
  // map is complete while Plotly is still being parsed), and follows Plotly's axes when someone pans
  // or zooms. Every redraw repaints every cell: cheap enough to do on each map batch.

  var CELL_EDGE = 'rgba(5, 11, 22, 0.9)';
  var HOT_EDGE = '#ffe58a';
  var CHILD_EDGE = '#8fc1ff';
  var SCOPE_EDGE = '#d7e9ff';
  var FADE_ALPHA = [0.95, 0.78, 0.55, 0.32];
  var PATH_CELLS = 160;

  // assets/board-geo.js
  var G = window.wartimeBoardGeo;
  var HIT_BINS = G.HIT_BINS, mercY = G.mercY, packGeo = G.packGeo, unpackCells = G.unpackCells;
  var indexGeo = G.indexGeo, insideFeat = G.insideFeat;

  function hitCell(x, y) {
    var g = B && B.geo && B.geo.g;
    if (!g || !g.bins) { return -1; }
    var i = Math.floor((x - g.all[0]) / g.bw), j = Math.floor((y - g.all[1]) / g.bh);
    if (i < 0 || j < 0 || i >= HIT_BINS || j >= HIT_BINS) { return -1; }
    var cand = g.bins[j * HIT_BINS + i];
    for (var c = 0; c < cand.length; c++) {
      var k = cand[c];
      if (x >= g.box[k * 4] && x <= g.box[k * 4 + 2] && y >= g.box[k * 4 + 1] && y <= g.box[k * 4 + 3] &&
          insideFeat(g, k, x, y)) { return k; }
    }
    return -1;
  }

  function waitGeo(me) {
    if (me.geoWaited) { return; }
    me.geoWaited = true;
    me.geoP.then(function (data) { if (B === me) { onGeo(data); } });
  }

  function onGeo(data) {
    if (!B || !data) { return; }
    mark('geo');
    var cells = data[0];
    B.geo = {g: cells.type === 'FeatureCollection' ? packGeo(cells, false) : unpackCells(cells), o: packGeo(data[1], true)};
    if (cells.type === 'FeatureCollection') {
      cells.features.forEach(function (f) { B.props[f.id] = f.properties; });
    } else {
      cells.props.forEach(function (p, k) { B.props[cells.ids[k]] = {c: p[0], n: p[1], s: p[2], l: p[3], k: p[4]}; });
    }
    mark('packed');
    indexGeo(B.geo.g);
    mark('indexed');
    B.map.added = true;
    B.dirty.feed = true;
    bindMapEvents();
    if (B.gotState) { queueAllCells(); }
    flushMap();
  }

  function mapBox() {
    // The canvas's size in CSS pixels, or null while the panel is not laid out.
    var cv = B.map.cv;
    if (!cv || !cv.isConnected) {
      cv = B.map.cv = $('board-map-canvas');
      if (!cv) { return null; }
    }
    var w = cv.clientWidth, h = cv.clientHeight;
    return w > 10 && h > 10 ? {w: w, h: h} : null;
  }

  function mapBounds() {
    // The scope's box in world units (the server's bounds of the scope, else the cells').
    var b = (B.snap && B.snap.map.bounds) || B.cfg.bounds;
    if (b) { return [b[0], mercY(b[1]), b[2], mercY(b[3])]; }
    var g = B.geo && B.geo.g;
    return g && g.n ? g.all : null;
  }

  function fitView(box) {
    var b = mapBounds();
    if (!b || !box) { return null; }
    var pad = Math.round(Math.min(box.w, box.h) * 0.04);
    var s = Math.min((box.w - 2 * pad) / Math.max(b[2] - b[0], 1e-9), (box.h - 2 * pad) / Math.max(b[3] - b[1], 1e-9));
    return {cx: (b[0] + b[2]) / 2, cy: (b[1] + b[3]) / 2, s: s, fit: s};
  }

  function styleOf(band, fade) {
    var key = band + fade;
    var hit = B.map.styles[key];
    if (hit) { return hit; }
    var pal = rules().palette;
    var hex = pal[band] || '#1b2a3d';
    var v = parseInt(hex.slice(1), 16);
    hit = 'rgba(' + (v >> 16 & 255) + ',' + (v >> 8 & 255) + ',' + (v & 255) + ',' + FADE_ALPHA[fade || 0] + ')';
    B.map.styles[key] = hit;
    return hit;
  }

  function tracePath(ctx, g, k, v, w2, h2) {
    for (var r = g.feat[k]; r < g.feat[k + 1]; r++) {
      var a = g.ring[r], b = g.ring[r + 1];
      if (b - a < 3) { continue; }
      ctx.moveTo((g.pts[a * 2] - v.cx) * v.s + w2, h2 - (g.pts[a * 2 + 1] - v.cy) * v.s);
      for (var p = a + 1; p < b; p++) {
        ctx.lineTo((g.pts[p * 2] - v.cx) * v.s + w2, h2 - (g.pts[p * 2 + 1] - v.cy) * v.s);
      }
      ctx.closePath();
    }
  }

  function drawMap() {
    // Every cell, filled by band and fade (one path per colour), thin edges, bright edges on cells that
    // just reported, then the borders of the scope's children and of the scope. Returns the cells drawn.
    var M = B.map, geo = B.geo;
    var box = mapBox();
    if (!geo || !box) { return 0; }
    if (!M.view) { M.view = fitView(box); }
    if (!M.view) { return 0; }
    var cv = M.cv, dpr = window.devicePixelRatio || 1;
    var pw = Math.round(box.w * dpr), ph = Math.round(box.h * dpr);
    if (cv.width !== pw || cv.height !== ph) { cv.width = pw; cv.height = ph; }
    var ctx = cv.getContext('2d');
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, box.w, box.h);
    var g = geo.g, v = M.view, w2 = box.w / 2, h2 = box.h / 2;
    var big = Math.max(1, Math.min(2.5, Math.min(box.w, box.h) / 800));
    var zoom = Math.max(0, Math.log(Math.max(1, v.s / (v.fit || v.s))) / Math.LN2);
    var groups = {}, order = [], hot = [], now = Date.now();
    for (var k = 0; k < g.n; k++) {
      var id = g.id[k];
      var key = (B.bands[id] || 'x') + (B.fade ? B.fade[id] || 0 : 0);
      var grp = groups[key];
      if (!grp) { grp = groups[key] = []; order.push(key); }
      grp.push(k);
      if (B.hot[id] && B.hot[id] >= now) { hot.push(k); }
    }
    var drawn = 0;
    ctx.lineJoin = 'round';
    ctx.lineWidth = 0.6 * big;
    ctx.strokeStyle = CELL_EDGE;
    order.forEach(function (key) {
      var cells = groups[key];
      ctx.fillStyle = styleOf(key.slice(0, -1), +key.slice(-1));
      // Paths of at most PATH_CELLS cells: building one path of thousands of rings costs Chromium
      // (Skia) superlinear time — 0.2 s for Pingnan's 5,043 cells in one path, 10 ms in chunks.
      for (var c0 = 0; c0 < cells.length; c0 += PATH_CELLS) {
        ctx.beginPath();
        for (var c = c0; c < Math.min(cells.length, c0 + PATH_CELLS); c++) { tracePath(ctx, g, cells[c], v, w2, h2); }
        ctx.fill('evenodd');
        ctx.stroke();
      }
      drawn += cells.length;
    });
    if (hot.length) {
      ctx.strokeStyle = HOT_EDGE;
      ctx.lineWidth = big;
      for (var h0 = 0; h0 < hot.length; h0 += PATH_CELLS) {
        ctx.beginPath();
        for (var h = h0; h < Math.min(hot.length, h0 + PATH_CELLS); h++) { tracePath(ctx, g, hot[h], v, w2, h2); }
        ctx.stroke();
      }
    }
    var o = geo.o;
    [false, true].forEach(function (scope) {
      ctx.beginPath();
      for (var j = 0; j < o.n; j++) { if (o.kind[j] === scope) { tracePath(ctx, o, j, v, w2, h2); } }
      ctx.strokeStyle = scope ? SCOPE_EDGE : CHILD_EDGE;
      ctx.lineWidth = (scope ? 2.4 : 1.5) * big * (1 + Math.min(0.6, zoom * 0.15));
      ctx.stroke();
    });
    M.drawn = drawn;
    M.drawnAt = copy(B.bandsAt);  // the canvas now shows the bands of this position
    M.bandsPending = false;
    M.drawAt = Date.now();
    return drawn;
  }

  function requestDraw() {
    if (!B || B.map.rafPending) { return; }
    var me = B;
    B.map.rafPending = true;
    requestAnimationFrame(function () {
      if (B !== me) { return; }
      me.map.rafPending = false;
      if (me.map.complete) { drawMap(); }
    });
  }

  function plotlyGraph() {
    var gd = graph('grid-map');
    return gd && hasPlotly() && gd._fullLayout && gd._fullLayout.xaxis ? gd : null;
  }

  function waitForPlotly() {
    // Plotly arrives after the map is drawn; from then on its axes and the canvas show the same view.
    var me = B;
    var poll = setInterval(function () {
      if (B !== me) { clearInterval(poll); return; }
      var gd = plotlyGraph();
      if (!gd || !me.map.complete) { return; }
      clearInterval(poll);
      mark('plotly');
      gd.on('plotly_relayouting', function (ev) { if (B === me) { syncFromPlotly(ev); } });
      gd.on('plotly_relayout', function (ev) { if (B === me) { syncFromPlotly(ev); } });
      pushView();
      drawMarkers();
    }, 50);
    me.timers.push(poll);
  }

  function viewRanges(v, box) {
    return [[v.cx - box.w / 2 / v.s, v.cx + box.w / 2 / v.s], [v.cy - box.h / 2 / v.s, v.cy + box.h / 2 / v.s]];
  }

  function pushView() {
    var gd = plotlyGraph(), box = mapBox();
    if (!gd || !box || !B.map.view) { return; }
    var r = viewRanges(B.map.view, box);
    Plotly.relayout(gd, {'xaxis.range': r[0], 'yaxis.range': r[1]});
  }

  function syncFromPlotly(ev) {
    // Someone panned or zoomed the graph: the canvas follows its axes.
    var gd = plotlyGraph(), box = mapBox(), v = B.map.view;
    if (!gd || !box || !v) { return; }
    var fl = gd._fullLayout;
    var get = function (ax, i) {
      var a = ev && ev[ax + '.range[' + i + ']'];
      if (a === undefined && ev && ev[ax + '.range']) { a = ev[ax + '.range'][i]; }
      return a === undefined ? fl[ax].range[i] : a;
    };
    var x0 = +get('xaxis', 0), x1 = +get('xaxis', 1), y0 = +get('yaxis', 0), y1 = +get('yaxis', 1);
    if (!(x1 > x0) || !(y1 > y0)) { return; }
    var s = box.w / (x1 - x0);
    var cx = (x0 + x1) / 2, cy = (y0 + y1) / 2;
    if (Math.abs(s - v.s) / v.s < 1e-6 && Math.abs(cx - v.cx) * s < 0.5 && Math.abs(cy - v.cy) * s < 0.5) { return; }
    B.map.view = {cx: cx, cy: cy, s: s, fit: v.fit};
    requestDraw();
  }

  function fitMap() {
    var box = mapBox();
    if (!box) { return; }
    B.map.view = fitView(box);
    if (B.map.complete) { drawMap(); }
    pushView();
  }

  function mark(name) {
    try { performance.mark('board:' + name); } catch (e) { /* old browser */ }
  }

  function queueAllCells() {
    computeFade(true);
    B.map.pending.all = true;
  }

  function computeFade(all) {
    if (!B.last) { return; }
    var now = serverNow();
    for (var i = 0; i < B.n; i++) {
      var f = 0;
      if (rules().unfaded.indexOf(B.bands[i]) < 0) {
        var t = B.last[i];
        if (!t) { f = 3; } else {
          var age = now - t;
          f = age < FADE_MS[0] ? 0 : age < FADE_MS[1] ? 1 : age < FADE_MS[2] ? 2 : 3;
        }
      }
      if (all || f !== B.fade[i]) { B.fade[i] = f; B.map.pending[i] = true; }
    }
  }

  function fadeCells() { if (B && B.gotState) { computeFade(false); } }

  function flushMap() {
    // Redraw when something changed (bands, fades, edges of cells that just reported): every
    // MAP_BATCH_MS at most, and at once the first time everything needed is here.
    if (!B || !B.map.added || !B.gotState) { return; }
    var now = Date.now();
    Object.keys(B.hot).forEach(function (k) {
      if (B.hot[k] < now) { delete B.hot[k]; B.map.pending[k] = true; }
    });
    if (B.map.complete && !Object.keys(B.map.pending).length) { B.updated.map = serverNow(); return; }
    var drawn = drawMap();
    if (!drawn && B.geo.g.n) { return; }  // not laid out yet: the next batch tries again
    B.map.pending = {};
    B.updated.map = serverNow();
    if (B.map.complete) { return; }
    bindMapEvents();
    B.map.complete = true;
    mark('drawn');
    var me = B;
    // The clock stops once the frame holding the drawn canvas has been produced.
    requestAnimationFrame(function () {
      setTimeout(function () {
        if (B !== me) { return; }
        mark('complete');
        releasePlotly();
        me.map.marks = {'data-polygons': String(me.map.drawn), 'data-map-state': 'complete',
          'data-ready-ms': String(Math.round(performance.now()))};
        markGraph();
        B.dirty.bars = B.dirty.curve = B.dirty.sum = true;
        setTimeout(function () { if (B === me) { drawCharts(true); drawMarkers(); } }, 0);
      }, 0);
    });
  }

  function clearMapMarks() {
    if (B) { B.map.marks = null; }
    var gm = $('grid-map');
    if (gm) { ['data-map-state', 'data-polygons', 'data-ready-ms'].forEach(function (k) { gm.removeAttribute(k); }); }
  }

  function markGraph() {
    // The marks on `#grid-map` survive Dash swapping the graph's placeholder for the graph itself
    // (Plotly usually arrives after the map is drawn): they are set again on whatever element holds it.
    if (!B || !B.map.marks) { return; }
    var g = $('grid-map');
    if (!g) { return; }
    Object.keys(B.map.marks).forEach(function (k) {
      if (g.getAttribute(k) !== B.map.marks[k]) { g.setAttribute(k, B.map.marks[k]); }
    });
    if (!B.map.watch && B.map.cv && B.map.cv.parentNode) {
      var me = B;
      B.map.watch = new MutationObserver(function () { if (B === me) { markGraph(); } });
      B.map.watch.observe(B.map.cv.parentNode, {childList: true, subtree: true, attributes: true,
        attributeFilter: ['data-map-state', 'data-polygons', 'data-ready-ms', 'id']});
    }
  }

  function bindMapEvents() {
    if (B.map.bound) { return; }
    if (!B.map.cv) { B.map.cv = $('board-map-canvas'); }
    var body = B.map.cv && B.map.cv.parentNode;
    if (!body) { return; }
    B.map.bound = true;
    var me = B;
    var tip = $('board-tip');
    var hoverTimer = null, down = null, last = -1;
    var at = function (e) {
      var r = me.map.cv.getBoundingClientRect(), v = me.map.view;
      var px = e.clientX - r.left, py = e.clientY - r.top;
      if (!v || px < 0 || py < 0 || px > r.width || py > r.height) { return null; }
      return {x: px, y: py, k: hitCell(v.cx + (px - r.width / 2) / v.s, v.cy - (py - r.height / 2) / v.s)};
    };
    var hide = function () {
      tip.style.display = 'none';
      last = -1;
      clearTimeout(hoverTimer);
      body.style.cursor = '';
    };
    body.addEventListener('mousemove', function (e) {
      if (B !== me) { return; }
      if (e.buttons) { hide(); return; }
      var h = at(e);
      if (!h || h.k < 0 || (e.target && e.target.closest && e.target.closest('.b-legend, .b-tip'))) { hide(); return; }
      var id = me.geo.g.id[h.k], p = me.props[id];
      if (!p) { hide(); return; }
      body.style.cursor = 'pointer';
      showTip(tip, id, p, h);
      if (id !== last) {
        last = id;
        clearTimeout(hoverTimer);
        hoverTimer = setTimeout(function () { enrichTip(tip, id, p); }, 180);
      } else {
        enrichTip(tip, id, p);
      }
    });
    body.addEventListener('mouseleave', hide);
    body.addEventListener('mousedown', function (e) { down = {x: e.clientX, y: e.clientY}; });
    body.addEventListener('click', function (e) {
      if (B !== me || !me.snap || !down || Math.abs(e.clientX - down.x) + Math.abs(e.clientY - down.y) > 6) { return; }
      var h = at(e);
      if (!h || h.k < 0) { return; }
      var p = me.props[me.geo.g.id[h.k]];
      if (!p) { return; }
      var child = p.k >= 0 ? me.snap.children[p.k] : null;
      var next = child ? child.code : p.c;
      if (next && next !== me.snap.scope.code) { navigate({scope: next}); }
    });
  }

  var PROBE_STEPS = [8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];

  function mapProbe() {
    // For tests and the benchmark: per cell, a point inside it (page coordinates) and the colour the
    // canvas holds there (null when the cell is under 3 pixels across); how many cells are painted.
    var g = B && B.geo && B.geo.g, box = B && mapBox(), v = B && B.map.view;
    if (!g || !box || !v) { return null; }
    var cv = B.map.cv, dpr = cv.width / box.w, rect = cv.getBoundingClientRect();
    var img = cv.getContext('2d').getImageData(0, 0, cv.width, cv.height).data;
    var painted = 0, sub = 0, codes = [], colours = [], points = [];
    for (var k = 0; k < g.n; k++) {
      codes.push((B.props[g.id[k]] || {}).c);
      var wpx = (g.box[k * 4 + 2] - g.box[k * 4]) * v.s, hpx = (g.box[k * 4 + 3] - g.box[k * 4 + 1]) * v.s;
      var colour = null, point = null;
      if (wpx < 3 || hpx < 3) { sub++; } else {
        var y = (g.box[k * 4 + 1] + g.box[k * 4 + 3]) / 2;
        for (var ti = 0; ti < PROBE_STEPS.length && colour === null; ti++) {
          var x = g.box[k * 4] + (g.box[k * 4 + 2] - g.box[k * 4]) * PROBE_STEPS[ti] / 16;
          if (!insideFeat(g, k, x, y)) { continue; }
          var cx = (x - v.cx) * v.s + box.w / 2, cy = box.h / 2 - (y - v.cy) * v.s;
          var px = Math.floor(cx * dpr), py = Math.floor(cy * dpr);
          if (px < 0 || py < 0 || px >= cv.width || py >= cv.height) { continue; }
          var o = (py * cv.width + px) * 4;
          if (img[o + 3] > 0) {
            colour = [img[o], img[o + 1], img[o + 2], img[o + 3]];
            point = [rect.left + cx, rect.top + cy];
          }
        }
        if (colour) { painted++; }
      }
      colours.push(colour);
      points.push(point);
    }
    return {cells: g.n, painted: painted, subpixel: sub, drawn: B.map.drawn, codes: codes, colours: colours,
      points: points};
  }

  function showTip(tip, id, p, point) {
    clear(tip);
    tip.appendChild(el('div', 'b-tip-name', p.n));
    tip.appendChild(el('div', 'b-tip-code', p.c));
    var lines = el('div', 'b-tip-lines');
    if (p.l) { lines.appendChild(el('div', 'b-tip-line', L('board.leader') + colon() + p.l)); }
    var band = B.bands[id];
    var bt = band ? rules().text[band] : '';
    if (bt) { lines.appendChild(el('div', 'b-tip-line', bt)); }
    var t = B.last && B.last[id];
    lines.appendChild(el('div', 'b-tip-line b-tip-age', t ? L('board.updated') + ' ' + fmtAgo(serverNow() - t) : L('board.never')));
    tip.appendChild(lines);
    tip.appendChild(el('div', 'b-tip-more'));
    tip.style.display = 'block';
    var box = tip.parentNode.getBoundingClientRect();
    var x = Math.min(point.x + 18, box.width - tip.offsetWidth - 8);
    var y = Math.min(point.y + 18, box.height - tip.offsetHeight - 8);
    tip.style.left = Math.max(4, x) + 'px';
    tip.style.top = Math.max(4, y) + 'px';
  }

  function enrichTip(tip, id, p) {
    if (!B || !B.snap) { return; }
    var op = B.snap.view.map_op;
    var key = p.c;
    var cached = B.tipCache[key];
    var render = function (info) {
      if (tip.style.display === 'none') { return; }
      var more = tip.querySelector('.b-tip-more');
      if (!more) { return; }
      clear(more);
      if (info.progress) {
        var pr = info.progress;
        Object.keys(pr.counts || {}).forEach(function (c) {
          var tg = (pr.targets || {})[c];
          more.appendChild(el('div', 'b-tip-line', L(c) + colon() + fmt(pr.counts[c]) + (tg ? ' / ' + fmt(tg) : '')));
        });
      }
      if (info.small) {
        var g = info.small;
        more.appendChild(el('div', 'b-tip-line', L('secretary') + colon() +
          (g.secretary ? g.secretary.name + (g.secretary.acting ? paren(L('acting_secretary')) : '') :
            (g.vacancy ? L('vacancy') : '—'))));
      }
    };
    if (cached && Date.now() - cached.at < 15000) { render(cached); return; }
    var info = {at: Date.now()};
    var jobs = [];
    if (op) {
      jobs.push(api('/operations/' + encodeURIComponent(op) + '/progress?grid=' + encodeURIComponent(key))
        .then(function (r) { return r.ok ? r.json() : null; }).then(function (j) { info.progress = j; }));
    }
    if (p.s) {
      jobs.push(api('/grids/' + encodeURIComponent(p.s)).then(function (r) { return r.ok ? r.json() : null; })
        .then(function (j) { info.small = j; }));
    }
    Promise.all(jobs).then(function () { B.tipCache[key] = info; render(info); }).catch(function () {});
  }

  // -- live push -------------------------------------------------------------------------------------

  function liveUrl() {
    var c = B.cfg;
    var q = new URLSearchParams();
    q.set('token', B.token);
    if (c.scope) { q.set('scope', c.scope); }
    if (c.op) { q.set('op', c.op); }
    if (c.live_url) { return c.live_url + (c.live_url.indexOf('?') >= 0 ? '&' : '?') + q.toString(); }
    if (!c.live_port) { return null; }
    var proto = window.location.protocol === 'https:' ? 'wss:' : 'ws:';
    return proto + '//' + window.location.hostname + ':' + c.live_port + '/live?' + q.toString();
  }

  function connectLive() {
    var me = B;
    me.link = window.wartimeLive.connect({
      url: liveUrl,
      onStatus: function (status, info) { if (B === me) { setConn(status, info); } },
      onMessage: function (msg) { if (B === me) { onMessage(msg); } }
    });
  }

  function setConn(status, info) {
    var prev = B.conn;
    B.conn = status;
    B.root.setAttribute('data-conn', status);
    B.retryAt = info && info.retryAt;
    var text = $('board-conn-text');
    text.textContent = status === 'live' ? L('board.live') : status === 'connecting' ? L('board.connecting') :
      status === 'refused' ? (info && info.code === 4403 ? L('board.forbidden') : L('login.expired')) : L('board.lost');
    if (status === 'live' && (prev === 'lost' || prev === 'refused')) { loadSnapshot(); }
  }

  function decodeAges(text, ts) {
    var out = new Float64Array(B.n);
    var parts = text ? text.split(',') : [];
    for (var i = 0; i < B.n; i++) {
      var p = parts[i];
      out[i] = p ? ts - parseInt(p, 36) * 1000 : 0;
    }
    return out;
  }

  function touchedOf(msg) {
    if (msg.u) { return msg.u; }
    if (!msg.ub) { return []; }
    var raw = atob(msg.ub);
    var out = [];
    for (var b = 0; b < raw.length; b++) {
      var byte = raw.charCodeAt(b);
      if (!byte) { continue; }
      for (var k = 0; k < 8; k++) { if (byte & (1 << k)) { out.push(b * 8 + k); } }
    }
    return out;
  }

  function onMessage(msg) {
    if (msg.ts) { B.skew = Date.now() - msg.ts; }
    var now = serverNow();
    if (B.conn === 'live') { LIVE_PANELS.forEach(function (p) { if (p !== 'map' || B.map.added) { B.updated[p] = now; } }); }
    if (msg.t === 'control') {
      // Alerts come and go every few seconds on a busy county: refetch at most every CONTROL_EVERY_MS.
      if (!B.ctlTimer) {
        var wait = Math.max(300, (B.snapAt || 0) + CONTROL_EVERY_MS - Date.now());
        B.ctlTimer = setTimeout(function () { B.ctlTimer = null; loadSnapshot(); }, wait);
        B.timers.push(B.ctlTimer);
      }
      return;
    }
    if (msg.t === 'state') { return onState(msg); }
    if (msg.t !== 'd') { return; }
    // One update, one position: everything the message carries is applied first, then every live
    // panel is redrawn from it in this same task (the map as soon as its canvas may be repainted).
    if (msg.at) { Object.keys(msg.at).forEach(function (k) { B.at[k] = msg.at[k]; }); }
    if (msg.k) {
      Object.keys(msg.k).forEach(function (op) { B.live[op] = msg.k[op]; });
      B.dirty.sum = B.dirty.curve = true;
    }
    if (msg.c) {
      Object.keys(msg.c).forEach(function (c) { B.kids[c] = msg.c[c]; });
      Object.keys(msg.cb || {}).forEach(function (c) { B.kidBands[c] = msg.cb[c]; });
      B.dirty.bars = B.dirty.sum = true;
    }
    if (msg.k || msg.c) { B.liveAt = Date.now(); }
    if (msg.b) {
      msg.b.split(',').forEach(function (pair) {
        var cut = pair.indexOf(':');
        var i = +pair.slice(0, cut);
        if (i < B.n) { B.bands[i] = pair.slice(cut + 1); B.map.pending[i] = true; }
      });
      B.map.bandsPending = true;
    }
    if (!msg.more) { B.bandsAt = copy(B.at); }  // else the rest of this position's bands are still to come
    var touched = touchedOf(msg);
    if (touched.length && B.last) {
      var until = Date.now() + HOT_MS;
      touched.forEach(function (i) {
        if (i >= B.n) { return; }
        B.last[i] = msg.ts;
        if (B.fade[i]) { B.fade[i] = 0; }
        B.hot[i] = until;
        B.map.pending[i] = true;
      });
    }
    if (msg.f) {
      B.feed = B.feed.concat(msg.f).slice(-60);
      B.dirty.feed = true;
    }
    commitLive();
  }

  function commitLive() {
    // The live panels, all from the figures of B.at; then every panel's mark. A delta carries every
    // change of the view between two positions, so a panel it does not touch is at the new one as is.
    updateTiles(true);
    if (B.snap && chartsReady()) {
      if (B.dirty.bars) { drawBars(); }
      if (B.dirty.sum) { drawSum(); }
      if (B.dirty.feed) { renderFeed(); }
      if (B.dirty.curve && Date.now() - (B.curveAt || 0) > CURVE_EVERY_MS) { drawCurve(); }
      ['bars', 'feed', 'curve'].forEach(function (p) {
        if (!B.dirty[p] && B.panelAt[p]) { B.panelAt[p] = copy(B.at); }
      });
    }
    if (B.map.bandsPending) { soonMap(); }
    markInstant();
  }

  function soonMap() {
    // Repaint the canvas for new bands at the next frame, at most every MAP_MIN_MS (a county's canvas
    // costs tens of milliseconds); until then the map marks itself stale.
    if (!B || B.map.soon || !B.map.complete) { return; }
    var me = B;
    var wait = Math.max(0, (B.map.drawAt || 0) + MAP_MIN_MS - Date.now());
    B.map.soon = setTimeout(function () {
      requestAnimationFrame(function () {
        if (B !== me) { return; }
        me.map.soon = null;
        flushMap();
        markInstant();
      });
    }, wait);
  }

  function onState(msg) {
    mark('state');
    B.gotState = true;
    B.n = msg.n;
    B.bands = msg.bands.split('');
    B.last = decodeAges(msg.ages, msg.ts);
    B.fade = new Uint8Array(B.n);
    B.hot = {};
    B.live = msg.k || {};
    B.kids = msg.c || {};
    B.kidBands = msg.cb || {};
    B.feed = msg.f || [];
    B.at = copy(msg.at || {});
    B.bandsAt = copy(B.at);
    B.map.bandsPending = true;
    B.liveAt = Date.now();
    B.dirty.bars = B.dirty.sum = B.dirty.curve = B.dirty.feed = true;
    updateTiles();
    drawCharts(true);
    if (B.map.added) { queueAllCells(); flushMap(); }
    var now = serverNow();
    LIVE_PANELS.forEach(function (p) { B.updated[p] = now; });
    markInstant();
    if (B.snap && B.snap.view.ops.join() !== msg.ops.join()) { loadSnapshot(); }
  }

  // -- one instant (DESIGN §7.6) ------------------------------------------------------------------------
  // B.at is the log position of the live figures: the control stream's last id under '~', each town
  // stream's under its code (the hub's state, then every delta's moves; the snapshot's until the hub's
  // state arrives). The live panels are redrawn together from one message, so they are at B.at; the map
  // is once its canvas shows that position's bands; the panels built from the snapshot are at the
  // snapshot's position. `#board[data-as-of]` says B.at, every panel its own, and a panel behind B.at
  // on the streams it shows marks itself [data-stale].

  // assets/board-position.js
  var P = window.wartimeBoardPosition;
  var copy = P.copy, idBefore = P.idBefore, posText = P.posText;

  function behind(pos, streams) {
    if (!B.at) { return false; }
    if (!pos) { return true; }
    return Object.keys(B.at).some(function (k) {
      return (!streams || streams.indexOf(k) >= 0) && idBefore(pos[k], B.at[k]);
    });
  }

  function panelPos(p) {
    if (p === 'sec' || p === 'alerts' || p === 'slow') { return B.snap ? B.snap.at : null; }
    if (p === 'map') {
      if (B.snap && !B.snap.map.has_geometry) { return B.at; }  // nothing to draw is nothing behind
      if (!B.map.complete) { return null; }
      return B.map.bandsPending ? B.map.drawnAt : B.bandsAt;
    }
    return B.panelAt[p] || null;
  }

  function markInstant() {
    var board = $('board');
    if (!B || !board || !B.at) { return; }
    var text = posText(B.at);
    if (board.getAttribute('data-as-of') !== text) { board.setAttribute('data-as-of', text); }
    PANELS.forEach(function (p) {
      var node = $('board-panel-' + p);
      if (!node) { return; }
      var pos = panelPos(p);
      var t = pos ? posText(pos) : '';
      if (node.getAttribute('data-as-of') !== t) { node.setAttribute('data-as-of', t); }
      var stale = behind(pos, PANEL_STREAMS[p]);
      if (stale !== node.hasAttribute('data-stale')) {
        if (stale) { node.setAttribute('data-stale', ''); } else { node.removeAttribute('data-stale'); }
      }
    });
  }

  // -- every second ------------------------------------------------------------------------------------

  function tick() {
    if (!B) { return; }
    if (!document.body.contains(B.root)) { stop(); return; }
    var now = serverNow();
    $('board-clock').textContent = fmtClock(new Date());
    if (B.snap && B.snap.mode.mode === 'wartime' && B.snap.mode.since) {
      $('board-elapsed').textContent = L('board.elapsed') + ' ' + fmtElapsed(now - B.snap.mode.since);
    } else if (B.snap) {
      $('board-elapsed').textContent = '';
    }
    var ages = B.root.querySelectorAll('[data-age-for]');
    for (var i = 0; i < ages.length; i++) {
      var node = ages[i];
      var key = node.getAttribute('data-age-for');
      var t = B.updated[key];
      var live = LIVE_PANELS.indexOf(key) >= 0;
      var age = t ? now - t : Infinity;
      var okLimit = live ? 12000 : 60000;
      var warnLimit = live ? 60000 : 180000;
      var state = age < okLimit ? 'b-age-ok' : age < warnLimit ? 'b-age-warn' : 'b-age-bad';
      if (live && B.conn !== 'live') { state = 'b-age-bad'; }  // not confirmed live any more, whatever its age
      node.className = 'b-age ' + state;
      node.lastChild.textContent = t ? L('board.updated') + ' ' + fmtAgo(age) : L('board.connecting');
    }
    var since = B.root.querySelectorAll('[data-since]');
    for (var j = 0; j < since.length; j++) {
      since[j].textContent = fmtAgo(now - parseInt(since[j].getAttribute('data-since'), 10));
    }
    if (B.snap && B.gotState && !B.loading && B.conn === 'live' && behind(B.snap.at) &&
        Date.now() - (B.liveAt || 0) > QUIET_MS && Date.now() - (B.snapAt || 0) > SNAPSHOT_QUIET_MS) {
      loadSnapshot();  // the figures have stopped moving: bring the snapshot's panels to their position
    }
    markInstant();
    var retry = $('board-lost-retry');
    if (retry) {
      retry.textContent = B.conn === 'lost' && B.retryAt ?
        ' · ' + L('board.reconnect_in', {s: Math.max(0, Math.ceil((B.retryAt - Date.now()) / 1000))}) : '';
    }
    if (B.tileNodes && B.gotState) { updateTiles(); }
  }

  function fmtClock(d) {
    return d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate()) + ' ' +
      pad(d.getHours()) + ':' + pad(d.getMinutes()) + ':' + pad(d.getSeconds());
  }

  window.addEventListener('resize', onResize);

  window.wartimeBoard = {
    boot: boot,
    navigate: navigate,
    pick: pick,
    stop: stop,
    debug: function () {
      return B ? {conn: B.conn, n: B.n, gotState: B.gotState, mapComplete: B.map.complete, key: B.key,
        at: B.at ? posText(B.at) : null} : null;
    },
    mapProbe: function () {
      return B ? mapProbe() : null;
    }
  };
})();
