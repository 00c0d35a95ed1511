/*
 * Command board (/): the map's canvas: geometry, drawing, fades, Plotly's axes kept in step.
 * Part of assets/board.js (see there); loads before it, assets are served in name order. Everything
 * is shared through window.wartimeBoardKit (W): state in W.B, every part's functions as W.name.
 */
(function () {
  'use strict';

  var W = window.wartimeBoardKit = window.wartimeBoardKit || {};

  // -- the map -------------------------------------------------------------------------------------------

  function fetchGeo(scope, digest) {
    var base = '/board/geo/' + encodeURIComponent(digest) + '/' + encodeURIComponent(scope);
    return fetchGeoUrls(W.API + base + '/cells.json', W.API + base + '/outline.geojson');
  }

  function fetchGeoUrls(cellsUrl, outlineUrl) {
    var me = W.B;
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
  var CLOSED_HATCH = 'rgba(215, 233, 255, 0.55)';
  var LABEL_FONT = '"Noto Sans SC", sans-serif';  // assets/board.css serves it (offline)

  // assets/board-geo.js
  var G = window.wartimeBoardGeo;
  var HIT_BINS = G.HIT_BINS, mercY = G.mercY, packGeo = G.packGeo, unpackCells = G.unpackCells;
  var indexGeo = G.indexGeo, insideFeat = G.insideFeat;

  function hitCell(x, y) {
    var g = W.B && W.B.geo && W.B.geo.g;
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
    me.geoP.then(function (data) { if (W.B === me) { onGeo(data); } });
  }

  function onGeo(data) {
    if (!W.B || !data) { return; }
    W.mark('geo');
    var cells = data[0];
    W.B.geo = {g: cells.type === 'FeatureCollection' ? packGeo(cells, false) : unpackCells(cells), o: packGeo(data[1], true)};
    if (cells.type === 'FeatureCollection') {
      cells.features.forEach(function (f) { W.B.props[f.id] = f.properties; });
    } else {
      cells.props.forEach(function (p, k) { W.B.props[cells.ids[k]] = {c: p[0], n: p[1], s: p[2], l: p[3], k: p[4]}; });
    }
    W.mark('packed');
    indexGeo(W.B.geo.g);
    W.mark('indexed');
    W.B.map.added = true;
    W.B.dirty.feed = true;
    W.bindMapEvents();
    if (W.B.gotState) { queueAllCells(); }
    flushMap();
  }

  function mapBox() {
    // The canvas's size in CSS pixels, or null while the panel is not laid out.
    var cv = W.B.map.cv;
    if (!cv || !cv.isConnected) {
      cv = W.B.map.cv = W.$('board-map-canvas');
      if (!cv) { return null; }
    }
    var w = cv.clientWidth, h = cv.clientHeight;
    return w > 10 && h > 10 ? {w: w, h: h} : null;
  }

  function mapBounds() {
    // The scope's box in world units (the server's bounds of the scope, else the cells').
    var b = (W.B.snap && W.B.snap.map.bounds) || W.B.cfg.bounds;
    if (b) { return [b[0], mercY(b[1]), b[2], mercY(b[3])]; }
    var g = W.B.geo && W.B.geo.g;
    return g && g.n ? g.all : null;
  }

  function fitView(box) {
    var b = mapBounds();
    if (!b || !box) { return null; }
    var inset = Math.round(Math.min(box.w, box.h) * 0.04);
    var s = Math.min((box.w - 2 * inset) / Math.max(b[2] - b[0], 1e-9), (box.h - 2 * inset) / Math.max(b[3] - b[1], 1e-9));
    return {cx: (b[0] + b[2]) / 2, cy: (b[1] + b[3]) / 2, s: s, fit: s, auto: true};
  }

  function refitToScope() {
    // The first frame may be fitted on the page's bounds before the snapshot names the scope's own (a
    // wall whose scope comes from its link or login, not its query): refit, unless someone moved the map.
    var M = W.B && W.B.map, v = M && M.view, box = mapBox();
    if (!v || !v.auto || !box) { return; }
    var next = fitView(box);
    if (!next || (next.cx === v.cx && next.cy === v.cy && next.s === v.s)) { return; }
    M.view = next;
    if (M.complete) { drawMap(); }
    pushView();
  }

  function styleOf(band, fade) {
    var key = band + fade;
    var hit = W.B.map.styles[key];
    if (hit) { return hit; }
    var pal = W.rules().palette;
    var hex = pal[band] || '#1b2a3d';
    var v = parseInt(hex.slice(1), 16);
    hit = 'rgba(' + (v >> 16 & 255) + ',' + (v >> 8 & 255) + ',' + (v & 255) + ',' + FADE_ALPHA[fade || 0] + ')';
    W.B.map.styles[key] = hit;
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

  function closedParts() {
    // Towns where the map's operation has ended (its part closed): code -> {name, at}.
    var snap = W.B.snap, id = snap && snap.view ? snap.view.map_op : null;
    var op = id && snap.ops ? snap.ops.filter(function (o) { return o.id === id; })[0] : null;
    return op && op.closed_parts ? op.closed_parts : {};
  }

  function hatch(ctx, big) {
    // Diagonal stripes over a town whose part is closed: its figures are frozen, whatever their colour.
    var n = Math.round(12 * big), tile = document.createElement('canvas');
    tile.width = tile.height = n;
    var t = tile.getContext('2d');
    t.strokeStyle = CLOSED_HATCH;
    t.lineWidth = Math.max(1.5, 1.6 * big);
    t.beginPath();
    t.moveTo(0, n); t.lineTo(n, 0);
    t.moveTo(-n / 2, n / 2); t.lineTo(n / 2, -n / 2);
    t.moveTo(n / 2, n * 1.5); t.lineTo(n * 1.5, n / 2);
    t.stroke();
    return ctx.createPattern(tile, 'repeat');
  }

  function drawClosedParts(ctx, o, v, w2, h2, big) {
    // Each closed town hatched and labelled 已结束 at its middle; returns how many.
    var parts = closedParts(), n = 0;
    if (!o.code) { return 0; }
    for (var j = 0; j < o.n; j++) {
      var part = parts[o.code[j]];
      if (!part) { continue; }
      ctx.beginPath();
      tracePath(ctx, o, j, v, w2, h2);
      ctx.fillStyle = hatch(ctx, big);
      ctx.fill('evenodd');
      var x = ((o.box[j * 4] + o.box[j * 4 + 2]) / 2 - v.cx) * v.s + w2;
      var y = h2 - ((o.box[j * 4 + 1] + o.box[j * 4 + 3]) / 2 - v.cy) * v.s;
      var text = W.L('board.closed');
      ctx.font = '700 ' + Math.round(18 * big) + 'px ' + LABEL_FONT;
      ctx.textAlign = 'center';
      ctx.textBaseline = 'middle';
      ctx.lineWidth = 4 * big;
      ctx.strokeStyle = 'rgba(5, 11, 22, 0.85)';
      ctx.strokeText(text, x, y);
      ctx.fillStyle = '#eaf3ff';
      ctx.fillText(text, x, y);
      n++;
    }
    return n;
  }

  function drawMap() {
    // Every cell, filled by band and fade (one path per colour), thin edges, bright edges on cells that
    // just reported, then the borders of the scope's children and of the scope. Returns the cells drawn.
    var M = W.B.map, geo = W.B.geo;
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
    var reach = W.reachBands();  // assets/board-reach.js: the bands by household reach, or null
    for (var k = 0; k < g.n; k++) {
      var id = g.id[k];
      var key = reach ? (reach.charAt(id) || 'x') + '0' : (W.B.bands[id] || 'x') + (W.B.fade ? W.B.fade[id] || 0 : 0);
      var grp = groups[key];
      if (!grp) { grp = groups[key] = []; order.push(key); }
      grp.push(k);
      if (W.B.hot[id] && W.B.hot[id] >= now) { hot.push(k); }
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
    var closed = drawClosedParts(ctx, o, v, w2, h2, big);
    [false, true].forEach(function (scope) {
      ctx.beginPath();
      for (var j = 0; j < o.n; j++) { if (o.kind[j] === scope) { tracePath(ctx, o, j, v, w2, h2); } }
      ctx.strokeStyle = scope ? SCOPE_EDGE : CHILD_EDGE;
      ctx.lineWidth = (scope ? 2.4 : 1.5) * big * (1 + Math.min(0.6, zoom * 0.15));
      ctx.stroke();
    });
    M.drawn = drawn;
    M.closed = closed;
    if (M.marks && M.marks['data-closed-parts'] !== String(closed)) { M.marks['data-closed-parts'] = String(closed); markGraph(); }
    M.measure = reach ? 'reach' : 'counter';
    M.reachAt = reach ? W.copy(W.B.snap.at) : null;  // reach is the snapshot's, at its position
    M.drawnAt = W.copy(W.B.bandsAt);  // the canvas now shows the bands of this position
    M.bandsPending = false;
    if (M.marks && M.marks['data-map-measure'] !== M.measure) { M.marks['data-map-measure'] = M.measure; markGraph(); }
    M.drawAt = Date.now();
    return drawn;
  }

  function requestDraw() {
    if (!W.B || W.B.map.rafPending) { return; }
    var me = W.B;
    W.B.map.rafPending = true;
    requestAnimationFrame(function () {
      if (W.B !== me) { return; }
      me.map.rafPending = false;
      if (me.map.complete) { drawMap(); }
    });
  }

  function plotlyGraph() {
    var gd = W.graph('grid-map');
    return gd && W.hasPlotly() && gd._fullLayout && gd._fullLayout.xaxis ? gd : null;
  }

  function waitForPlotly() {
    // Plotly arrives after the map is drawn; from then on its axes and the canvas show the same view.
    var me = W.B;
    var poll = setInterval(function () {
      if (W.B !== me) { clearInterval(poll); return; }
      var gd = plotlyGraph();
      if (!gd || !me.map.complete) { return; }
      clearInterval(poll);
      W.mark('plotly');
      gd.on('plotly_relayouting', function (ev) { if (W.B === me) { syncFromPlotly(ev); } });
      gd.on('plotly_relayout', function (ev) { if (W.B === me) { syncFromPlotly(ev); } });
      pushView();
      W.drawMarkers();
    }, 50);
    me.timers.push(poll);
  }

  function viewRanges(v, box) {
    return [[v.cx - box.w / 2 / v.s, v.cx + box.w / 2 / v.s], [v.cy - box.h / 2 / v.s, v.cy + box.h / 2 / v.s]];
  }

  function pushView() {
    var gd = plotlyGraph(), box = mapBox();
    if (!gd || !box || !W.B.map.view) { return; }
    var r = viewRanges(W.B.map.view, box);
    Plotly.relayout(gd, {'xaxis.range': r[0], 'yaxis.range': r[1]});
  }

  function syncFromPlotly(ev) {
    // Someone panned or zoomed the graph: the canvas follows its axes.
    var gd = plotlyGraph(), box = mapBox(), v = W.B.map.view;
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
    W.B.map.view = {cx: cx, cy: cy, s: s, fit: v.fit};
    requestDraw();
  }

  function fitMap() {
    var box = mapBox();
    if (!box) { return; }
    W.B.map.view = fitView(box);
    if (W.B.map.complete) { drawMap(); }
    pushView();
  }


  function queueAllCells() {
    computeFade(true);
    W.B.map.pending.all = true;
  }

  function computeFade(all) {
    if (!W.B.last) { return; }
    var now = W.serverNow();
    for (var i = 0; i < W.B.n; i++) {
      var f = 0;
      if (W.rules().unfaded.indexOf(W.B.bands[i]) < 0) {
        var t = W.B.last[i];
        if (!t) { f = 3; } else {
          var age = now - t;
          f = age < W.FADE_MS[0] ? 0 : age < W.FADE_MS[1] ? 1 : age < W.FADE_MS[2] ? 2 : 3;
        }
      }
      if (all || f !== W.B.fade[i]) { W.B.fade[i] = f; W.B.map.pending[i] = true; }
    }
  }

  function fadeCells() { if (W.B && W.B.gotState) { computeFade(false); } }

  function flushMap() {
    // Redraw when something changed (bands, fades, edges of cells that just reported): every
    // MAP_BATCH_MS at most, and at once the first time everything needed is here.
    if (!W.B || !W.B.map.added || !W.B.gotState) { return; }
    var now = Date.now();
    Object.keys(W.B.hot).forEach(function (k) {
      if (W.B.hot[k] < now) { delete W.B.hot[k]; W.B.map.pending[k] = true; }
    });
    if (W.B.map.complete && !Object.keys(W.B.map.pending).length) { W.B.updated.map = W.serverNow(); return; }
    var drawn = drawMap();
    if (!drawn && W.B.geo.g.n) { return; }  // not laid out yet: the next batch tries again
    W.B.map.pending = {};
    W.B.updated.map = W.serverNow();
    if (W.B.map.complete) { return; }
    W.bindMapEvents();
    W.B.map.complete = true;
    W.mark('drawn');
    var me = W.B;
    // The clock stops once the frame holding the drawn canvas has been produced.
    requestAnimationFrame(function () {
      setTimeout(function () {
        if (W.B !== me) { return; }
        W.mark('complete');
        W.releasePlotly();
        me.map.marks = {'data-polygons': String(me.map.drawn), 'data-map-state': 'complete',
          'data-ready-ms': String(Math.round(performance.now())), 'data-map-measure': me.map.measure || 'counter',
          'data-closed-parts': String(me.map.closed || 0)};
        markGraph();
        W.B.dirty.bars = W.B.dirty.curve = W.B.dirty.sum = true;
        setTimeout(function () { if (W.B === me) { W.drawCharts(true); W.drawMarkers(); } }, 0);
      }, 0);
    });
  }

  function clearMapMarks() {
    if (W.B) { W.B.map.marks = null; }
    var gm = W.$('grid-map');
    if (gm) { ['data-map-state', 'data-polygons', 'data-ready-ms', 'data-map-measure', 'data-closed-parts'].forEach(function (k) { gm.removeAttribute(k); }); }
  }

  function markGraph() {
    // The marks on `#grid-map` survive Dash swapping the graph's placeholder for the graph itself
    // (Plotly usually arrives after the map is drawn): they are set again on whatever element holds it.
    if (!W.B || !W.B.map.marks) { return; }
    var g = W.$('grid-map');
    if (!g) { return; }
    Object.keys(W.B.map.marks).forEach(function (k) {
      if (g.getAttribute(k) !== W.B.map.marks[k]) { g.setAttribute(k, W.B.map.marks[k]); }
    });
    if (!W.B.map.watch && W.B.map.cv && W.B.map.cv.parentNode) {
      var me = W.B;
      W.B.map.watch = new MutationObserver(function () { if (W.B === me) { markGraph(); } });
      W.B.map.watch.observe(W.B.map.cv.parentNode, {childList: true, subtree: true, attributes: true,
        attributeFilter: ['data-map-state', 'data-polygons', 'data-ready-ms', 'data-map-measure', 'data-closed-parts',
                          'id']});
    }
  }

  W.fetchGeo = fetchGeo;
  W.closedParts = closedParts;
  W.fetchGeoUrls = fetchGeoUrls;
  W.CELL_EDGE = CELL_EDGE;
  W.HOT_EDGE = HOT_EDGE;
  W.CHILD_EDGE = CHILD_EDGE;
  W.SCOPE_EDGE = SCOPE_EDGE;
  W.FADE_ALPHA = FADE_ALPHA;
  W.PATH_CELLS = PATH_CELLS;
  W.HIT_BINS = HIT_BINS;
  W.mercY = mercY;
  W.packGeo = packGeo;
  W.unpackCells = unpackCells;
  W.indexGeo = indexGeo;
  W.insideFeat = insideFeat;
  W.hitCell = hitCell;
  W.waitGeo = waitGeo;
  W.onGeo = onGeo;
  W.mapBox = mapBox;
  W.mapBounds = mapBounds;
  W.fitView = fitView;
  W.styleOf = styleOf;
  W.tracePath = tracePath;
  W.drawMap = drawMap;
  W.requestDraw = requestDraw;
  W.plotlyGraph = plotlyGraph;
  W.waitForPlotly = waitForPlotly;
  W.viewRanges = viewRanges;
  W.pushView = pushView;
  W.syncFromPlotly = syncFromPlotly;
  W.fitMap = fitMap;
  W.refitToScope = refitToScope;
  W.queueAllCells = queueAllCells;
  W.computeFade = computeFade;
  W.fadeCells = fadeCells;
  W.flushMap = flushMap;
  W.clearMapMarks = clearMapMarks;
  W.markGraph = markGraph;
})();
