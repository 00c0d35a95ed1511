/*
 * Command board (/): the KPI tiles of the operations on view ([data-kpi]).
 * Part of assets/board.js (see there); loads before it, assets are served in name order. Everything
 * is shared through window.wartimeBoardKit (W): state in W.B, every part's functions as W.name.
 */
(function () {
  'use strict';

  var W = window.wartimeBoardKit = window.wartimeBoardKit || {};

  // -- KPI tiles --------------------------------------------------------------------------------------

  function tileTotals(tile) {
    var out = {};
    tile.counters.forEach(function (c) { out[c] = 0; });
    tile.ops.forEach(function (id) {
      var cell = W.B.live[id] || {};
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
    var s = W.B.snap;
    var box = W.$('board-tiles');
    var shape = tileShape(s.tiles, s.view.map_op);
    if (W.B.tileNodes && W.B.tileShape === shape && W.B.tileNodes.length) {
      // Same tiles as before: keep the nodes (and whoever watches them), take the new rates.
      W.B.tileNodes.forEach(function (t, i) { t.tile = s.tiles[i]; });
      updateTiles();
      return;
    }
    W.B.tileShape = shape;
    W.clear(box);
    W.B.tileNodes = [];
    if (!s.tiles.length) {
      box.appendChild(peacetimeCard());
      return;
    }
    var mapOp = s.view.map_op;
    s.tiles.forEach(function (tile) {
      var main = tile.ops.indexOf(mapOp) >= 0;
      var head = tile.counters[0];
      var card = W.el('div', 'b-tile' + (main ? ' b-tile-main' : '') + (tile.closed ? ' b-tile-closed' : ''));
      card.setAttribute('data-kind', tile.kind);
      var top = W.el('div', 'b-tile-top');
      top.appendChild(W.el('span', 'b-tile-kind', W.L(tile.kind)));
      top.appendChild(W.el('span', 'b-tile-where', tile.where + (tile.closed ? ' · ' + W.L('board.closed') : '')));
      card.appendChild(top);
      card.appendChild(W.el('div', 'b-tile-label', W.L(head)));
      var row = W.el('div', 'b-tile-row');
      var num = W.el('span', 'b-num b-tile-num', '0', {'data-kpi': head, 'data-value': '0'});
      row.appendChild(num);
      var target = tile.targets[head] || 0;
      row.appendChild(W.el('span', 'b-tile-of', target ? '/ ' + W.fmt(target) : ''));
      var pctNode = W.el('span', 'b-tile-pct', '');
      row.appendChild(pctNode);
      card.appendChild(row);
      var bar = W.el('div', 'b-bar');
      var fill = W.el('div', 'b-bar-fill');
      bar.appendChild(fill);
      var paceMark = W.el('div', 'b-bar-pace');
      bar.appendChild(paceMark);
      card.appendChild(bar);
      var stats = W.el('div', 'b-tile-stats');
      card.appendChild(stats);
      var subs = [];
      if (tile.counters.length > 1) {
        var sub = W.el('div', 'b-tile-subs');
        tile.counters.slice(1).forEach(function (c) {
          var item = W.el('div', 'b-sub-item');
          item.appendChild(W.el('span', 'b-sub-label', W.L(c)));
          var v = W.el('span', 'b-num b-sub-num', '0', {'data-kpi': c, 'data-value': '0'});
          var t = tile.targets[c];
          item.appendChild(v);
          if (t) { item.appendChild(W.el('span', 'b-sub-of', '/ ' + W.fmt(t))); }
          sub.appendChild(item);
          subs.push([c, v]);
        });
        card.appendChild(sub);
      }
      box.appendChild(card);
      W.B.tileNodes.push({tile: tile, main: main, num: num, pct: pctNode, fill: fill, pace: paceMark, stats: stats, subs: subs});
    });
    if (s.tiles.length <= 2) {  // room to spare (not on a small screen: assets/board.css)
      var extra = peacetimeCard(W.L('board.scope_facts'));
      extra.classList.add('b-peace-extra');
      box.appendChild(extra);
    }
    updateTiles();
  }

  function setKpi(node, value) {
    var v = String(Math.round(value));
    if (node.getAttribute('data-value') === v) { return; }
    node.setAttribute('data-value', v);
    node.textContent = W.fmt(value);
    // A short glow when the number moves, at most every few seconds (no forced layout).
    var now = Date.now();
    if (node.animate && now - (node._bumped || 0) > W.BUMP_EVERY_MS) {
      node._bumped = now;
      node.animate([{transform: 'scale(1.04)'}, {transform: 'none'}], {duration: 450});  // compositor only
    }
  }

  function updateTiles(numbersOnly) {
    if (!W.B.tileNodes) { return; }
    W.B.panelAt.kpi = W.copy(W.B.at);
    var now = W.serverNow();
    W.B.tileNodes.forEach(function (t) {
      var tile = t.tile;
      var totals = tileTotals(tile);
      var head = tile.counters[0];
      var done = totals[head];
      var target = tile.targets[head] || 0;
      setKpi(t.num, done);
      var p = W.pct(done, target);
      t.pct.textContent = p === null ? '' : W.fmtPct(p);
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
    W.clear(node);
    function stat(label, value, cls, note) {
      var s = W.el('span', 'b-stat' + (cls ? ' ' + cls : ''));
      s.appendChild(W.el('span', 'b-stat-label', label));
      s.appendChild(W.el('span', 'b-stat-value', value));
      if (note) { s.appendChild(W.el('span', 'b-stat-note', note)); }
      node.appendChild(s);
    }
    var remaining = Math.max(0, target - done);
    var eta = null;
    if (target && remaining === 0) { eta = now; } else if (target && tile.rate_per_h > 0) {
      eta = now + remaining / tile.rate_per_h * 3600000;
    }
    var etaText = eta === null ? (target ? W.L('board.eta_unknown') : '—') : W.fmtTime(eta, true);
    var note = '', cls = '';
    if (eta !== null && tile.deadline) {
      var early = tile.deadline - eta;
      note = early >= 0 ? W.L('board.ahead', {d: W.fmtSpan(early)}) : W.L('board.behind', {d: W.fmtSpan(-early)});
      cls = early >= 0 ? 'b-good' : 'b-bad';
    }
    stat(W.L('board.rate'), W.fmt(tile.rate_per_h) + W.L('board.per_hour'));
    if (main) {
      var need = tile.need_per_h;
      stat(W.L('board.need'), need !== null && need !== undefined && done < target ? W.fmt(need) + W.L('board.per_hour') : '—',
        need > tile.rate_per_h ? 'b-warn' : '');
    }
    stat(W.L('board.eta'), etaText, cls, note);
    if (main) { stat(W.L('board.deadline'), tile.deadline ? W.fmtTime(tile.deadline, true) : W.L('board.no_deadline')); }
  }

  function peacetimeCard(title) {
    var s = W.B.snap;
    var p = s.peacetime;
    var card = W.el('div', 'b-peace');
    card.appendChild(W.el('div', 'b-peace-title',
      title || (s.mode.mode === 'wartime' ? W.L('board.no_ops') : W.L('board.peace_title'))));
    var grid = W.el('div', 'b-peace-grid');
    function cell(label, value) {
      var c = W.el('div', 'b-peace-cell');
      c.appendChild(W.el('div', 'b-num b-peace-num', W.fmt(value)));
      c.appendChild(W.el('div', 'b-peace-label', label));
      grid.appendChild(c);
    }
    ['large', 'medium', 'small', 'micro'].forEach(function (lv) {
      if (p.levels[lv]) { cell(W.L(lv), p.levels[lv]); }
    });
    cell(W.L('board.population'), p.population);
    cell(W.L('board.households'), p.households);
    if (p.central_households) { cell(W.L('board.central_households'), p.central_households); }
    cell(W.L('board.first_leaders'), s.secretaries.first_leaders);
    card.appendChild(grid);
    return card;
  }

  W.tileTotals = tileTotals;
  W.tileShape = tileShape;
  W.renderTiles = renderTiles;
  W.setKpi = setKpi;
  W.updateTiles = updateTiles;
  W.renderStats = renderStats;
  W.peacetimeCard = peacetimeCard;
})();
