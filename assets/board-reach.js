/*
 * Command board (/): the map and the bars coloured by household reach (入户覆盖率, issue 16) —
 * households with a status / households, per map cell and per child of the scope.
 * Part of assets/board.js (see there); loads before it, assets are served in name order. Everything
 * is shared through window.wartimeBoardKit (W): state in W.B, every part's functions as W.name.
 *
 * The figures are the snapshot's (`households.map`: done, total and band per cell, aligned with the
 * polygons' cell index; `households.children`: the same per child), read with the rest of the
 * snapshot at one log position (DESIGN §7.6): in reach mode the map and the bars say the snapshot's
 * position, and a newer status brings a new snapshot (the board's catch-up). The bands are the
 * server's (dashboard/components/bands.py `reach_band`); nothing here decides one.
 *
 * The measure: `?map=reach` (a kiosk link or a playlist view fixes it) or the selector on the map
 * panel (`#board-measure`, hidden in TV mode), which changes the URL in place (no new page). It
 * applies when the wall shows households (the households panel's rule: an evacuation or door-knocking
 * operation, or any once a household has a status); otherwise the map shows the counter, as always.
 * `#grid-map[data-map-measure]` says which measure the canvas shows.
 */
(function () {
  'use strict';

  var W = window.wartimeBoardKit = window.wartimeBoardKit || {};

  function reachData() {
    // The snapshot's reach per cell, when the wall shows households; else null.
    var hh = W.B && W.B.snap && W.B.snap.households;
    return hh && hh.map && hh.map.bands && hh.map.bands.length === W.B.snap.map.cells ? hh : null;
  }

  function reachOn() { return !!(W.B && W.B.cfg.map === 'reach' && reachData()); }

  function reachBands() {
    // The bands the canvas draws in reach mode (a string, one character per cell), or null.
    return reachOn() ? W.B.snap.households.map.bands : null;
  }

  function measureName() { return reachOn() ? 'reach' : 'counter'; }

  function setMeasure(m) {
    m = m === 'reach' ? 'reach' : null;
    if (!W.B || (W.B.cfg.map || null) === m) { return; }
    var was = measureName();
    W.B.cfg.map = m;
    var q = new URLSearchParams(window.location.search);
    if (m) { q.set('map', m); } else { q.delete('map'); }
    var s = q.toString();
    window.history.replaceState(window.history.state, '', window.location.pathname + (s ? '?' + s : ''));
    if (measureName() !== was) { redraw(); }
    renderMeasure();
  }

  function redraw() {
    // Everything the measure colours: the canvas (every cell), the legend and subtitle, the bars.
    if (!W.B || !W.B.snap) { return; }
    W.B.map.pending.all = true;
    if (W.B.map.complete) { W.flushMap(); }
    W.renderLegend();
    W.B.barRows = null;
    W.B.dirty.bars = W.B.dirty.sum = true;
    W.renderBarsTitle();
    W.drawCharts(true);
    W.markInstant();
  }

  function onSnapshot(prev) {
    // A new snapshot: in reach mode the canvas takes its bands (when they moved) at once.
    var before = prev && prev.households && prev.households.map ? prev.households.map.bands : null;
    if (reachOn() && before !== W.B.snap.households.map.bands) {
      W.B.map.pending.all = true;
      if (W.B.map.complete) { W.flushMap(); }
    } else if (reachOn() && W.B.map.measure === 'reach') {
      W.B.map.reachAt = W.copy(W.B.snap.at);  // the same bands: the canvas shows this position too
    } else if (W.B.cfg.map === 'reach' && prev && prev.households && prev.households.map && !reachData()) {
      W.B.map.pending.all = true;  // the households left the view: back to the counter
    }
    renderMeasure();
  }

  function renderMeasure() {
    var box = W.$('board-measure');
    if (!box || !W.B || !W.B.snap) { return; }
    W.clear(box);
    if (!reachData()) { box.setAttribute('hidden', ''); return; }
    box.removeAttribute('hidden');
    var now = measureName();
    box.appendChild(W.el('span', 'b-measure-label', W.L('board.measure')));
    [['counter', null], ['reach', 'reach']].forEach(function (m) {
      var b = W.el('button', 'b-measure-btn' + (now === m[0] ? ' b-measure-on' : ''), W.L('board.measure.' + m[0]),
        {type: 'button', 'data-measure': m[0], 'aria-pressed': now === m[0] ? 'true' : 'false'});
      b.addEventListener('click', function () { setMeasure(m[1]); });
      box.appendChild(b);
    });
  }

  function pctText(p) { return p === null || p === undefined ? '—' : (Math.floor(p * 10) / 10).toFixed(1); }

  function tipLine(id) {
    // The tooltip's reach line for cell `id` ("" when the map is not coloured by reach).
    if (!reachOn()) { return ''; }
    var m = W.B.snap.households.map, total = m.total[id] || 0, done = m.done[id] || 0;
    if (!total) { return W.L('board.hh.tip_none'); }
    return W.L('board.hh.tip', {done: W.fmt(done), total: W.fmt(total), pct: pctText(Math.floor(done * 1000 / total) / 10)});
  }

  function barRows() {
    // The bars in reach mode: one per child with a roster, most reached first.
    var rows = (W.B.snap.households.children || []).map(function (c) {
      return {code: c.code, name: c.name, done: c.done, total: c.total, pct: c.pct, band: c.band};
    });
    rows.sort(function (a, b) { return ((b.pct || 0) - (a.pct || 0)) || a.name.localeCompare(b.name); });
    return rows;
  }

  function drawReachSum(node) {
    // Σ of the children's reached households against the scope's, from the same read.
    var hh = W.B.snap.households;
    var kids = hh.children || [];
    if (!kids.length) { return; }
    var sum = 0;
    kids.forEach(function (c) { sum += Math.min(c.done, c.total); });
    W.sumLine(node, 'board.hh.sum_check', sum, Math.min(hh.done, hh.total));  // assets/board-charts.js
  }

  function probe() {
    // For tests: the measure and, per cell index, households with a status and households.
    var m = reachOn() ? W.B.snap.households.map : null;
    return {measure: measureName(), done: m ? m.done : null, total: m ? m.total : null, bands: m ? m.bands : null};
  }

  W.reachData = reachData;
  W.reachOn = reachOn;
  W.reachBands = reachBands;
  W.measureName = measureName;
  W.setMeasure = setMeasure;
  W.reachRedraw = redraw;
  W.reachSnapshot = onSnapshot;
  W.renderMeasure = renderMeasure;
  W.reachTipLine = tipLine;
  W.reachBarRows = barRows;
  W.drawReachSum = drawReachSum;
  W.reachProbe = probe;
})();
