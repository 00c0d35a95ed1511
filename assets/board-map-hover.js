/*
 * Command board (/): the map's hover tooltips, clicks (drill-down) and the probe for tests.
 * Part of assets/board.js (see there); loads before it, assets are served in name order. Everything
 * is shared through window.wartimeBoardKit (W): state in W.B, every part's functions as W.name.
 */
(function () {
  'use strict';

  var W = window.wartimeBoardKit = window.wartimeBoardKit || {};

  function bindMapEvents() {
    if (W.B.map.bound) { return; }
    if (!W.B.map.cv) { W.B.map.cv = W.$('board-map-canvas'); }
    var body = W.B.map.cv && W.B.map.cv.parentNode;
    if (!body) { return; }
    W.B.map.bound = true;
    var me = W.B;
    var tip = W.$('board-tip');
    var hoverTimer = null, down = null, last = -1;
    var at = function (e) {
      var r = me.map.cv.getBoundingClientRect(), v = me.map.view;
      var px = e.clientX - r.left, py = e.clientY - r.top;
      if (!v || px < 0 || py < 0 || px > r.width || py > r.height) { return null; }
      return {x: px, y: py, k: W.hitCell(v.cx + (px - r.width / 2) / v.s, v.cy - (py - r.height / 2) / v.s)};
    };
    var hide = function () {
      tip.style.display = 'none';
      last = -1;
      clearTimeout(hoverTimer);
      body.style.cursor = '';
    };
    body.addEventListener('mousemove', function (e) {
      if (W.B !== me) { return; }
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
      if (W.B !== me || !me.snap || !down || Math.abs(e.clientX - down.x) + Math.abs(e.clientY - down.y) > 6) { return; }
      var h = at(e);
      if (!h || h.k < 0) { return; }
      var p = me.props[me.geo.g.id[h.k]];
      if (!p) { return; }
      var child = p.k >= 0 ? me.snap.children[p.k] : null;
      var next = child ? child.code : p.c;
      if (next && next !== me.snap.scope.code) { W.navigate({scope: next}); }
    });
  }

  var PROBE_STEPS = [8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];

  function mapProbe() {
    // For tests and the benchmark: per cell, a point inside it (page coordinates) and the colour the
    // canvas holds there (null when the cell is under 3 pixels across); how many cells are painted.
    var g = W.B && W.B.geo && W.B.geo.g, box = W.B && W.mapBox(), v = W.B && W.B.map.view;
    if (!g || !box || !v) { return null; }
    var cv = W.B.map.cv, dpr = cv.width / box.w, rect = cv.getBoundingClientRect();
    var img = cv.getContext('2d').getImageData(0, 0, cv.width, cv.height).data;
    var painted = 0, sub = 0, codes = [], colours = [], points = [];
    for (var k = 0; k < g.n; k++) {
      codes.push((W.B.props[g.id[k]] || {}).c);
      var wpx = (g.box[k * 4 + 2] - g.box[k * 4]) * v.s, hpx = (g.box[k * 4 + 3] - g.box[k * 4 + 1]) * v.s;
      var colour = null, point = null;
      if (wpx < 3 || hpx < 3) { sub++; } else {
        var y = (g.box[k * 4 + 1] + g.box[k * 4 + 3]) / 2;
        for (var ti = 0; ti < PROBE_STEPS.length && colour === null; ti++) {
          var x = g.box[k * 4] + (g.box[k * 4 + 2] - g.box[k * 4]) * PROBE_STEPS[ti] / 16;
          if (!W.insideFeat(g, k, x, y)) { continue; }
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
    // reach: the measure the canvas shows and, in reach mode, done / total per cell index (board-reach.js).
    return {cells: g.n, painted: painted, subpixel: sub, drawn: W.B.map.drawn, codes: codes, colours: colours,
      points: points, ids: Array.prototype.slice.call(g.id, 0, g.n), reach: W.reachProbe(), measure: W.B.map.measure};
  }

  function showTip(tip, id, p, point) {
    W.clear(tip);
    tip.appendChild(W.el('div', 'b-tip-name', p.n));
    tip.appendChild(W.el('div', 'b-tip-code', p.c));
    var lines = W.el('div', 'b-tip-lines');
    if (p.l) { lines.appendChild(W.el('div', 'b-tip-line', W.L('board.leader') + W.colon() + p.l)); }
    var reach = W.reachTipLine(id);  // assets/board-reach.js: "reach 3 / 8 households · 37.5%" in reach mode
    var band = W.B.bands[id];
    var bt = reach || (band ? W.rules().text[band] : '');
    if (bt) { lines.appendChild(W.el('div', 'b-tip-line' + (reach ? ' b-tip-reach' : ''), bt)); }
    var t = W.B.last && W.B.last[id];
    lines.appendChild(W.el('div', 'b-tip-line b-tip-age', t ? W.L('board.updated') + ' ' + W.fmtAgo(W.serverNow() - t) : W.L('board.never')));
    tip.appendChild(lines);
    tip.appendChild(W.el('div', 'b-tip-more'));
    tip.style.display = 'block';
    var box = tip.parentNode.getBoundingClientRect();
    var x = Math.min(point.x + 18, box.width - tip.offsetWidth - 8);
    var y = Math.min(point.y + 18, box.height - tip.offsetHeight - 8);
    tip.style.left = Math.max(4, x) + 'px';
    tip.style.top = Math.max(4, y) + 'px';
  }

  function enrichTip(tip, id, p) {
    if (!W.B || !W.B.snap) { return; }
    var op = W.B.snap.view.map_op;
    var key = p.c;
    var cached = W.B.tipCache[key];
    var render = function (info) {
      if (tip.style.display === 'none') { return; }
      var more = tip.querySelector('.b-tip-more');
      if (!more) { return; }
      W.clear(more);
      if (info.progress) {
        var pr = info.progress;
        Object.keys(pr.counts || {}).forEach(function (c) {
          var tg = (pr.targets || {})[c];
          more.appendChild(W.el('div', 'b-tip-line', W.L(c) + W.colon() + W.fmt(pr.counts[c]) + (tg ? ' / ' + W.fmt(tg) : '')));
        });
      }
      if (info.small) {
        var g = info.small;
        more.appendChild(W.el('div', 'b-tip-line', W.L('secretary') + W.colon() +
          (g.secretary ? g.secretary.name + (g.secretary.acting ? W.paren(W.L('acting_secretary')) : '') :
            (g.vacancy ? W.L('vacancy') : '—'))));
      }
    };
    if (cached && Date.now() - cached.at < 15000) { render(cached); return; }
    var info = {at: Date.now()};
    var jobs = [];
    if (op) {
      jobs.push(W.api('/operations/' + encodeURIComponent(op) + '/progress?grid=' + encodeURIComponent(key))
        .then(function (r) { return r.ok ? r.json() : null; }).then(function (j) { info.progress = j; }));
    }
    if (p.s) {
      jobs.push(W.api('/grids/' + encodeURIComponent(p.s)).then(function (r) { return r.ok ? r.json() : null; })
        .then(function (j) { info.small = j; }));
    }
    Promise.all(jobs).then(function () { W.B.tipCache[key] = info; render(info); }).catch(function () {});
  }

  W.bindMapEvents = bindMapEvents;
  W.PROBE_STEPS = PROBE_STEPS;
  W.mapProbe = mapProbe;
  W.showTip = showTip;
  W.enrichTip = enrichTip;
})();
