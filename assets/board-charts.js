/*
 * Command board (/): the charts: bars by child with their sum check, the progress curve, the map's alert markers.
 * Part of assets/board.js (see there); loads before it, assets are served in name order. Everything
 * is shared through window.wartimeBoardKit (W): state in W.B, every part's functions as W.name.
 */
(function () {
  'use strict';

  var W = window.wartimeBoardKit = window.wartimeBoardKit || {};

  // -- charts ------------------------------------------------------------------------------------------

  function renderBarsTitle() {
    var lv = W.B.snap.children_level;
    if (W.reachOn()) { W.$('board-bars-title-text').textContent = W.L('board.hh.by_town', {level: W.L(lv || 'town')}); return; }
    W.$('board-bars-title-text').textContent = lv ? W.L('board.by_child', {level: W.L(lv)}) : W.L('board.by_child', {level: ''});
  }

  function childRows() {
    var s = W.B.snap;
    var rows = s.children.map(function (c) {
      var live = W.B.kids[c.code] !== undefined;
      var total = live ? W.B.kids[c.code] : c.total;
      var band = live && W.B.kidBands[c.code] !== undefined ? W.B.kidBands[c.code] : c.band;
      return {code: c.code, name: c.name, total: total, target: c.target, pct: W.pct(total, c.target), band: band};
    });
    var byPct = rows.some(function (r) { return r.target; });
    rows.sort(function (a, b) {
      return byPct ? ((b.pct || 0) - (a.pct || 0)) || a.name.localeCompare(b.name) : b.total - a.total;
    });
    return {rows: rows, byPct: byPct};
  }

  function rules() { return (W.B && W.B.cfg.bands) || {palette: {}, ramp: '', legend: [], unfaded: '', text: {}}; }

  function chartsReady() { return W.B.map.complete || Date.now() - W.B.started > W.CHARTS_WAIT_MS; }

  function drawCharts(force) {
    // The map comes first: charts wait until it is complete (or a few seconds have passed).
    if (!W.B || !W.B.snap || !chartsReady()) { return; }
    if (W.B.dirty.bars || force) { drawBars(); }
    if (W.B.dirty.sum || force) { drawSum(); }
    if (W.B.dirty.feed) { W.renderFeed(); }
    var now = Date.now();
    if ((W.B.dirty.curve && now - (W.B.curveAt || 0) > W.CURVE_EVERY_MS) || force) { drawCurve(); }
    W.markInstant();
  }

  function chartFont() {
    var fs = parseFloat(getComputedStyle(W.B.root).fontSize) || 16;
    return Math.round(fs);  // no text of the wall under 1em (assets/board.css)
  }

  function drawBars() {
    // Plain HTML bars, one row per child, kept by code and re-ordered in place.
    var box = W.$('board-bars');
    if (!box) { return; }
    W.B.dirty.bars = false;
    W.B.panelAt.bars = W.copy(W.B.at);
    var reach = W.reachOn();  // assets/board-reach.js: reach per child, from the snapshot
    var r = reach ? {rows: W.reachBarRows(), byPct: true} : childRows();
    var palette = rules().palette;
    var parts = reach ? {} : W.closedParts();
    var rowsKey = W.B.snap.scope.code + '|' + W.B.snap.view.map_op + '|' + (reach ? 'reach' : '');
    if (!W.B.barRows || W.B.barRows.key !== rowsKey) {
      W.clear(box);
      W.B.barRows = {key: rowsKey, rows: {}};
      if (!r.rows.length) { box.appendChild(W.el('li', 'b-empty', W.L('board.none'))); }
    }
    var max = 1;
    r.rows.forEach(function (row) { max = Math.max(max, row.total); });
    r.rows.forEach(function (row, i) {
      var n = W.B.barRows.rows[row.code];
      if (!n) {
        n = {li: W.el('li', 'b-barrow'), name: W.el('span', 'b-barname', row.name), track: W.el('span', 'b-bartrack'),
          fill: W.el('span', 'b-barfill'), pct: W.el('span', 'b-barpct'), of: W.el('span', 'b-barof')};
        n.track.appendChild(n.fill);
        [n.name, n.track, n.pct, n.of].forEach(function (c) { n.li.appendChild(c); });
        n.li.addEventListener('click', function () { W.navigate({scope: row.code}); });
        W.B.barRows.rows[row.code] = n;
      }
      var width = r.byPct ? (row.pct === null ? 0 : Math.min(100, row.pct)) : row.total * 100 / max;
      n.fill.style.width = width + '%';
      n.fill.style.background = palette[row.band] || '';
      n.li.setAttribute('data-child', row.code);
      var closed = parts[row.code];  // its part of the operation ended: the figures are frozen
      n.li.className = 'b-barrow' + (closed ? ' b-barrow-closed' : '');
      n.track.setAttribute('data-label', closed ? W.L('board.closed') : '');
      if (closed) { n.li.setAttribute('data-closed', '1'); } else { n.li.removeAttribute('data-closed'); }
      if (reach) {
        // data-value: households with a status; data-reach: their share (percent, rounded down).
        n.li.setAttribute('data-value', String(row.done));
        n.li.setAttribute('data-reach', String(row.pct === null ? '' : row.pct));
        n.pct.textContent = W.fmtPct(row.pct);
        n.of.textContent = W.fmt(row.done) + ' / ' + W.fmt(row.total);
      } else {
        n.li.setAttribute('data-value', String(row.total));
        n.pct.textContent = r.byPct ? W.fmtPct(row.pct) : '';
        n.of.textContent = W.fmt(row.total) + (row.target ? ' / ' + W.fmt(row.target) : '');
      }
      if (box.children[i] !== n.li) { box.insertBefore(n.li, box.children[i] || null); }
    });
    fitBars(box, r.rows.length);
  }

  function fitBars(box, n) {
    // Rows never shrink under their text (16 px at least): when they do not fit in one column, they
    // take two (without the "done / target" figures). Measured once per row count and screen size,
    // not on every update (no forced layout on the live path).
    var key = W.B.barRows.key + '|' + n + '|' + window.innerWidth + 'x' + window.innerHeight;
    if (W.B.barRows.fit === key) { return; }
    W.B.barRows.fit = key;
    box.classList.remove('b-bars-two');
    box.style.gridTemplateRows = '';
    if (n > 1 && box.scrollHeight > box.clientHeight + 1) {
      box.classList.add('b-bars-two');
      box.style.gridTemplateRows = 'repeat(' + Math.ceil(n / 2) + ', minmax(0, 1fr))';
    }
  }

  function drawSum() {
    var s = W.B.snap;
    if (!s) { return; }
    W.B.dirty.sum = false;
    var node = W.$('board-sum');
    W.clear(node);
    var op = s.view.map_op;
    if (W.reachOn()) { W.drawReachSum(node); return; }
    if (!op || !s.children.length || !W.B.gotState) { return; }
    var parent = (W.B.live[op] || {})[s.view.counter] || 0;
    var sum = 0;
    s.children.forEach(function (c) { sum += W.B.kids[c.code] !== undefined ? W.B.kids[c.code] : 0; });
    sumLine(node, 'board.sum_check', sum, parent);
  }

  function sumLine(node, key, sum, parent) {
    // "Σ children = scope ✓": the one line under the bars, for the counter and for households reached.
    var s = W.B.snap, ok = sum === parent;
    node.className = 'b-sum ' + (ok ? 'b-sum-ok' : 'b-sum-bad');
    node.setAttribute('data-sum-ok', ok ? '1' : '0');
    node.appendChild(W.el('span', 'b-sum-text', W.L(key, {level: W.L(s.children_level || 'town'), parent: s.scope.name})));
    node.appendChild(W.el('span', 'b-sum-value', W.fmt(sum) + (ok ? ' = ' : ' ≠ ') + W.fmt(parent)));
    node.appendChild(W.el('span', 'b-sum-mark', ok ? '✓' : '✗'));
  }

  function mapTile() {
    var s = W.B.snap;
    if (!s || !s.view.map_op) { return null; }
    for (var i = 0; i < s.tiles.length; i++) {
      if (s.tiles[i].ops.indexOf(s.view.map_op) >= 0) { return s.tiles[i]; }
    }
    return null;
  }

  function drawCurve() {
    var gd = W.graph('board-curve');
    if (!gd || !W.hasPlotly()) { return; }
    W.B.dirty.curve = false;
    W.B.curveAt = Date.now();
    W.B.panelAt.curve = W.copy(W.B.at);
    var tile = mapTile();
    if (!tile) {
      Plotly.restyle(gd, {x: [[], [], [], []], y: [[], [], [], []]});
      return;
    }
    var head = tile.counters[0];
    var target = tile.targets[head] || 0;
    var xs = [], ys = [];
    tile.curve.forEach(function (p) { xs.push(p[0]); ys.push(p[1]); });
    var now = W.serverNow();
    var done = W.tileTotals(tile)[head];
    if (xs.length && now > xs[xs.length - 1]) { xs.push(now); ys.push(Math.max(done, ys[ys.length - 1])); }
    else if (ys.length) { ys[ys.length - 1] = done; }
    var dl = tile.deadline;
    var paceX = [], paceY = [], needX = [], needY = [], tgtX = [], tgtY = [];
    if (target && dl) {
      paceX = [tile.launched_at, dl]; paceY = [0, target];
      if (dl > now && done < target) { needX = [now, dl]; needY = [done, target]; }
      tgtX = [tile.launched_at, dl]; tgtY = [target, target];
    }
    var toDate = function (a) { return a.map(W.localIso); };
    var top = curveTop(tile.launched_at, now, done, target, dl, paceX.length ? paceY : null, needX, needY);
    var fs = chartFont();
    Plotly.update(gd, {
      x: [toDate(xs), toDate(paceX), toDate(needX), toDate(tgtX)],
      y: [ys, paceY, needY, tgtY]
    }, {
      'font.size': fs, 'margin.l': Math.round(fs * 3.2), 'margin.b': Math.round(fs * 1.9),
      'margin.r': Math.round(fs * 1.2), 'margin.t': Math.round(fs * 0.6),
      'xaxis.range': [W.localIso(tile.launched_at), W.localIso(top.x)],
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
    var gd = W.plotlyGraph();
    if (!gd || !W.B.snap || !W.B.map.complete) { return; }
    var xs = [], ys = [], text = [];
    W.B.snap.alerts.markers.forEach(function (m) { ys.push(W.mercY(m[0])); xs.push(m[1]); text.push(W.L(m[2]) + ' · ' + m[3]); });
    Plotly.restyle(gd, {x: [xs], y: [ys], text: [text]}, [0]);
  }

  function onResize() {
    if (!W.B) { return; }
    clearTimeout(W.B.resizeTimer);
    W.B.resizeTimer = setTimeout(function () {
      if (W.B && W.B.map.added) { W.fitMap(); }
      if (W.B) { W.B.dirty.bars = W.B.dirty.curve = true; drawCharts(true); }
    }, 300);
  }

  W.renderBarsTitle = renderBarsTitle;
  W.childRows = childRows;
  W.rules = rules;
  W.chartsReady = chartsReady;
  W.drawCharts = drawCharts;
  W.chartFont = chartFont;
  W.drawBars = drawBars;
  W.fitBars = fitBars;
  W.drawSum = drawSum;
  W.sumLine = sumLine;
  W.mapTile = mapTile;
  W.drawCurve = drawCurve;
  W.curveTop = curveTop;
  W.drawMarkers = drawMarkers;
  W.onResize = onResize;
})();
