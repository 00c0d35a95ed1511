/*
 * Command board (/): the map's legend, subtitle and messages.
 * Part of assets/board.js (see there); loads before it, assets are served in name order. Everything
 * is shared through window.wartimeBoardKit (W): state in W.B, every part's functions as W.name.
 */
(function () {
  'use strict';

  var W = window.wartimeBoardKit = window.wartimeBoardKit || {};

  // -- legend and map messages ---------------------------------------------------------------------------

  function renderLegend() {
    var s = W.B.snap;
    var box = W.$('board-legend');
    W.clear(box);
    var sub = W.$('board-map-sub');
    var pal = W.rules().palette;
    var reach = W.reachOn();  // assets/board-reach.js: the map coloured by household reach
    if (s.view.map_op || reach) {
      sub.textContent = (reach ? W.L('board.hh.map_of', {name: s.households.op_name}) :
        W.L('board.map_of', {name: s.map.op_name, counter: W.L(s.view.counter)})) + ' · ' +
        W.L('board.cells', {n: W.fmt(s.map.cells)});
      var ramp = W.el('div', 'b-ramp');
      W.rules().ramp.split('').forEach(function (d) { var sw = W.el('span', 'b-ramp-step'); sw.style.background = pal[d]; ramp.appendChild(sw); });
      var row = W.el('div', 'b-legend-row');
      row.appendChild(W.el('span', 'b-legend-lo', '0%'));
      row.appendChild(ramp);
      row.appendChild(W.el('span', 'b-legend-hi', '100%'));
      box.appendChild(row);
      var keys = W.el('div', 'b-legend-keys');
      (reach ? W.rules().reach_legend || [] : W.rules().legend).forEach(function (k) {
        var item = W.el('span', 'b-legend-key');
        var sw = W.el('i', 'b-legend-sw');
        sw.style.background = pal[k[0]];
        item.appendChild(sw);
        item.appendChild(W.el('span', '', k[1]));
        keys.appendChild(item);
      });
      box.appendChild(keys);
      if (!reach) {
        box.appendChild(W.el('div', 'b-legend-note b-legend-fresh', W.L('board.legend_fresh') + ' · ' + W.L('board.legend_stale')));
        if (Object.keys(W.closedParts()).length) {  // assets/board-map.js: towns whose part has ended
          box.appendChild(W.el('div', 'b-legend-note b-legend-closed', W.L('board.legend_closed')));
        }
      }
    } else {
      sub.textContent = (s.mode.mode === 'wartime' ? W.L('board.no_ops') : W.L('board.map_peace')) + ' · ' +
        W.L('board.cells', {n: W.fmt(s.map.cells)});
    }
    box.appendChild(W.el('div', 'b-legend-note b-legend-drill', W.L('board.drill')));
  }

  function mapMessage(text) {
    var m = W.$('board-map-msg');
    if (m) { m.textContent = text || ''; m.style.display = text ? 'block' : 'none'; }
  }

  W.renderLegend = renderLegend;
  W.mapMessage = mapMessage;
})();
