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
 * This file is the core: navigation, boot and stop, the snapshot, one instant and the clock. The
 * rest is split by concern, each served before this file (assets load in name order) and sharing
 * window.wartimeBoardKit (W: the page's state in W.B, every part's functions as W.name):
 *   board-kit.js        settings, state, formatting and DOM helpers
 *   board-header.js     county, mode, breadcrumbs, selectors
 *   board-tiles.js      the KPI tiles ([data-kpi])
 *   board-panels.js     secretaries, alerts, slowest grids
 *   board-feed.js       the live feed
 *   board-charts.js     bars by child and their Σ, the progress curve, the map's alert markers
 *   board-legend.js     the map's legend, subtitle and messages
 *   board-map.js        the map's canvas (geometry, drawing, fades, Plotly's axes in step)
 *   board-map-hover.js  tooltips, drill-down clicks, the probe for tests
 *   board-reach.js      the map and bars by household reach (?map=reach) and the map's measure selector
 *   board-live.js       the live push
 * and the pure helpers: board-defer-plotly.js (Plotly after the map), board-geo.js (packing and hit
 * test of the polygons), board-position.js (log positions). wall-playlist.js rotates views on any page.
 */
(function () {
  'use strict';

  var W = window.wartimeBoardKit;

  // -- navigation (history push; Dash pages renders the frame for the new query) ----------------

  function pick(what, value) {
    // A selector changed: go there, unless it is where the board already is (selectors are also set by code).
    if (!W.B || !W.B.snap) { return; }
    if (what === 'scope' && value && value !== W.B.snap.scope.code) { navigate({scope: value}); }
    if (what === 'op' && (value || null) !== (W.B.cfg.op || null)) { navigate({op: value || null}); }
    if (what === 'lang') { navigate({lang: W.B.lang === 'en' ? 'zh-CN' : 'en'}); }
  }

  function navigate(patch) {
    var q = new URLSearchParams(window.location.search);
    Object.keys(patch).forEach(function (k) {
      if (patch[k] === null || patch[k] === undefined || patch[k] === '') { q.delete(k); } else { q.set(k, patch[k]); }
    });
    if (patch.lang) { W.setProps('lang', {data: patch.lang}); }
    var s = q.toString();
    W.clearMapMarks();  // the map that is complete is this query's, not the next one's
    window.history.pushState({}, '', window.location.pathname + (s ? '?' + s : ''));
    window.dispatchEvent(new CustomEvent('_dashprivate_pushstate'));
  }

  // -- boot / stop -------------------------------------------------------------------------------

  function boot(session, cfg) {
    var root = W.$('board-root');
    var token = cfg.token || (session && session.token);
    if (!root || !token) { stop(); return; }
    var key = [cfg.scope, cfg.op, cfg.lang, token].join('|');
    if (W.B && W.B.key === key && W.B.root === root) { W.setMeasure(cfg.map); return; }  // the same board, maybe another measure
    stop();
    start(root, cfg, token, key);
  }

  function stop() {
    if (!W.B) { return; }
    W.B.stopped = true;
    if (W.B.link) { W.B.link.close(); }
    W.B.timers.forEach(function (t) { clearInterval(t); clearTimeout(t); });
    if (W.B.map.watch) { W.B.map.watch.disconnect(); }
    W.B = null;
  }

  function start(root, cfg, token, key) {
    W.mark('boot');
    W.B = {
      key: key, root: root, cfg: cfg, token: token, lang: cfg.lang || 'zh-CN', labels: cfg.labels || {},
      stopped: false, timers: [], skew: 0, conn: 'connecting',
      snap: null, live: {}, kids: {}, kidBands: {}, gotState: false, at: null, bandsAt: null, panelAt: {},
      n: 0, bands: [], last: null, fade: null, hot: {}, props: [],
      feed: [], updated: {}, dirty: {bars: false, curve: false, sum: false, feed: false},
      map: {cv: null, added: false, pending: {}, complete: false, view: null, styles: {}, drawn: 0},
      snapTimer: null, tipCache: {}, started: Date.now()
    };
    root.setAttribute('data-conn', 'connecting');
    W.clearMapMarks();  // React may keep the element across a change of query: the last board's are not ours
    W.B.geoP = cfg.geo ? W.fetchGeo(cfg.scope || '~', cfg.geo) : null;
    W.connectLive();
    if (W.B.geoP) {
      // The map needs neither the snapshot nor Plotly: it is drawn first. The snapshot is asked for
      // once the polygons are here (or after SNAPSHOT_AFTER_GEO_MS), so that the server, on two cores
      // shared with the wall's browser, does not build both at once.
      W.waitGeo(W.B);
      var me = W.B, asked = false;
      var ask = function () { if (W.B === me && !asked) { asked = true; loadSnapshot(); } };
      W.B.geoP.then(ask, ask);
      W.B.timers.push(setTimeout(ask, W.SNAPSHOT_AFTER_GEO_MS));
    } else {
      loadSnapshot();
    }
    W.waitForPlotly();
    W.B.timers.push(setInterval(tick, 1000));
    W.B.timers.push(setInterval(W.flushMap, W.MAP_BATCH_MS));
    W.B.timers.push(setInterval(W.fadeCells, W.FADE_EVERY_MS));
    W.B.timers.push(setInterval(W.drawCharts, W.CHART_EVERY_MS));
    W.B.timers.push(setInterval(function () { loadSnapshot(); }, W.SNAPSHOT_EVERY_MS));
  }

  // -- snapshot ----------------------------------------------------------------------------------

  function loadSnapshot() {
    var me = W.B;
    if (!me || me.loading) { return; }
    me.loading = true;
    var q = new URLSearchParams();
    if (me.cfg.scope) { q.set('scope', me.cfg.scope); }
    if (me.cfg.op) { q.set('op', me.cfg.op); }
    q.set('lang', me.lang);
    W.api('/board?' + q.toString()).then(function (r) {
      if (r.status === 401) { throw {auth: true}; }
      if (r.status === 403 || r.status === 404) {
        return r.json().then(function (body) { throw {refused: true, body: body}; });
      }
      if (!r.ok) { throw {status: r.status}; }
      return r.json();
    }).then(function (snap) {
      if (W.B !== me) { return; }
      me.loading = false;
      W.mark('snapshot');
      applySnapshot(snap);
    }).catch(function (err) {
      if (W.B !== me) { return; }
      me.loading = false;
      if (err && err.auth) { return authFailed(); }
      if (err && err.refused) {
        // The server's message is for logs; the wall says it in its own language.
        W.mapMessage(W.L('board.forbidden'));
        return;
      }
      clearTimeout(me.snapTimer);
      me.snapTimer = setTimeout(loadSnapshot, W.SNAPSHOT_RETRY_MS);
      me.timers.push(me.snapTimer);
    });
  }

  function authFailed() {
    if (W.B.cfg.token) {
      W.mapMessage(W.L('login.expired'));
      W.B.root.setAttribute('data-conn', 'refused');
      return;
    }
    W.setProps('session', {data: null});
  }

  function applySnapshot(snap) {
    var first = !W.B.snap, prev = W.B.snap;
    W.B.snap = snap;
    W.B.snapAt = Date.now();
    W.B.skew = Date.now() - snap.now;
    var now = W.serverNow();
    W.SNAP_PANELS.forEach(function (p) { W.B.updated[p] = now; });
    if (!W.B.gotState) {
      // Until the hub's state arrives, the snapshot's totals (and their position) are the best we have.
      W.B.at = W.copy(snap.at);
      W.B.bandsAt = W.copy(snap.at);
      snap.ops.forEach(function (o) { if (!W.B.live[o.id]) { W.B.live[o.id] = o.totals; } });
      snap.children.forEach(function (c) { if (W.B.kids[c.code] === undefined) { W.B.kids[c.code] = c.total; } });
    }
    W.renderHeader();
    W.renderSelectors();
    W.renderTiles();
    W.renderSecretaries();
    W.renderAlerts();
    W.renderSlowest();
    if (window.wartimeBoardHouseholds) { window.wartimeBoardHouseholds(snap, W.L, W.el); }  // assets/board-households.js
    W.reachSnapshot(prev);  // assets/board-reach.js: the map's measure and, in reach mode, its bands
    W.renderBarsTitle();
    W.renderLegend();
    W.B.dirty.bars = W.B.dirty.curve = W.B.dirty.feed = W.B.dirty.sum = true;
    W.drawCharts(true);
    W.renderFeed();
    W.drawMarkers();
    W.refitToScope();
    W.requestDraw();  // what the snapshot alone tells the map (a town's part closed) is drawn at once
    markInstant();
    if (first) {
      if (!snap.map.has_geometry) {
        // Nothing to draw: say so, and let the rest of the board go on without waiting for a map.
        W.mapMessage(W.L('board.no_geometry'));
        W.B.map.complete = true;
        W.B.map.marks = {'data-polygons': '0', 'data-map-state': 'complete'};
        W.markGraph();
        W.releasePlotly();
        W.B.dirty.bars = W.B.dirty.curve = W.B.dirty.sum = true;
      }
      if (!W.B.geoP && snap.map.has_geometry) { W.B.geoP = W.fetchGeoUrls(snap.map.cells_url, snap.map.outline_url); }
      if (W.B.geoP) { W.waitGeo(W.B); }
    }
  }

  // -- one instant (DESIGN §7.6) ------------------------------------------------------------------------
  // B.at is the log position of the live figures: the control stream's last id under '~', each town
  // stream's under its code (the hub's state, then every delta's moves; the snapshot's until the hub's
  // state arrives). The live panels are redrawn together from one message, so they are at B.at; the map
  // is once its canvas shows that position's bands; the panels built from the snapshot are at the
  // snapshot's position. `#board[data-as-of]` says B.at, every panel its own, and a panel behind B.at
  // on the streams it shows marks itself [data-stale].


  function behind(pos, streams) {
    if (!W.B.at) { return false; }
    if (!pos) { return true; }
    return Object.keys(W.B.at).some(function (k) {
      return (!streams || streams.indexOf(k) >= 0) && W.idBefore(pos[k], W.B.at[k]);
    });
  }

  function panelPos(p) {
    if (p === 'sec' || p === 'alerts' || p === 'slow' || p === 'hh') { return W.B.snap ? W.B.snap.at : null; }
    if (p === 'bars' && W.reachOn()) { return W.B.snap.at; }  // reach by child: the snapshot's figures
    if (p === 'map') {
      if (W.B.snap && !W.B.snap.map.has_geometry) { return W.B.at; }  // nothing to draw is nothing behind
      if (!W.B.map.complete) { return null; }
      if (W.B.map.measure === 'reach') { return W.B.map.reachAt; }  // coloured by the snapshot's reach
      return W.B.map.bandsPending ? W.B.map.drawnAt : W.B.bandsAt;
    }
    return W.B.panelAt[p] || null;
  }

  function markInstant() {
    var board = W.$('board');
    if (!W.B || !board || !W.B.at) { return; }
    var text = W.posText(W.B.at);
    if (board.getAttribute('data-as-of') !== text) { board.setAttribute('data-as-of', text); }
    W.PANELS.forEach(function (p) {
      var node = W.$('board-panel-' + p);
      if (!node) { return; }
      var pos = panelPos(p);
      var t = pos ? W.posText(pos) : '';
      if (node.getAttribute('data-as-of') !== t) { node.setAttribute('data-as-of', t); }
      var stale = behind(pos, W.PANEL_STREAMS[p]);
      if (stale !== node.hasAttribute('data-stale')) {
        if (stale) { node.setAttribute('data-stale', ''); } else { node.removeAttribute('data-stale'); }
      }
    });
  }

  // -- every second ------------------------------------------------------------------------------------

  function tick() {
    if (!W.B) { return; }
    if (!document.body.contains(W.B.root)) { stop(); return; }
    var now = W.serverNow();
    W.$('board-clock').textContent = W.localIso(W.serverNow()) + ' ' + W.L('board.zone');
    if (W.B.snap && W.B.snap.mode.mode === 'wartime' && W.B.snap.mode.since) {
      W.$('board-elapsed').textContent = W.L('board.elapsed') + ' ' + W.fmtElapsed(now - W.B.snap.mode.since);
    } else if (W.B.snap) {
      W.$('board-elapsed').textContent = '';
    }
    var ages = W.B.root.querySelectorAll('[data-age-for]');
    for (var i = 0; i < ages.length; i++) {
      var node = ages[i];
      var key = node.getAttribute('data-age-for');
      var t = W.B.updated[key];
      var live = W.LIVE_PANELS.indexOf(key) >= 0;
      var age = t ? now - t : Infinity;
      var okLimit = live ? 12000 : 60000;
      var warnLimit = live ? 60000 : 180000;
      var state = age < okLimit ? 'b-age-ok' : age < warnLimit ? 'b-age-warn' : 'b-age-bad';
      if (live && W.B.conn !== 'live') { state = 'b-age-bad'; }  // not confirmed live any more, whatever its age
      node.className = 'b-age ' + state;
      node.lastChild.textContent = t ? W.L('board.updated') + ' ' + W.fmtAgo(age) : W.L('board.connecting');
    }
    var since = W.B.root.querySelectorAll('[data-since]');
    for (var j = 0; j < since.length; j++) {
      since[j].textContent = W.fmtAgo(now - parseInt(since[j].getAttribute('data-since'), 10));
    }
    if (W.B.snap && W.B.gotState && !W.B.loading && W.B.conn === 'live' && behind(W.B.snap.at) &&
        Date.now() - (W.B.liveAt || 0) > W.QUIET_MS && Date.now() - (W.B.snapAt || 0) > W.SNAPSHOT_QUIET_MS) {
      loadSnapshot();  // the figures have stopped moving: bring the snapshot's panels to their position
    }
    markInstant();
    var retry = W.$('board-lost-retry');
    if (retry) {
      retry.textContent = W.B.conn === 'lost' && W.B.retryAt ?
        ' · ' + W.L('board.reconnect_in', {s: Math.max(0, Math.ceil((W.B.retryAt - Date.now()) / 1000))}) : '';
    }
    if (W.B.tileNodes && W.B.gotState) { W.updateTiles(); }
  }

  window.addEventListener('resize', W.onResize);

  window.wartimeBoard = {
    boot: boot,
    navigate: navigate,
    pick: pick,
    stop: stop,
    debug: function () {
      return W.B ? {conn: W.B.conn, n: W.B.n, gotState: W.B.gotState, mapComplete: W.B.map.complete, key: W.B.key,
        at: W.B.at ? W.posText(W.B.at) : null} : null;
    },
    mapProbe: function () {
      return W.B ? W.mapProbe() : null;
    }
  };

  W.pick = pick;
  W.navigate = navigate;
  W.boot = boot;
  W.stop = stop;
  W.start = start;
  W.loadSnapshot = loadSnapshot;
  W.authFailed = authFailed;
  W.applySnapshot = applySnapshot;
  W.behind = behind;
  W.panelPos = panelPos;
  W.markInstant = markInstant;
  W.tick = tick;
})();
