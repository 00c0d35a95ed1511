/*
 * Command board: log positions (DESIGN §7.6), as streams/position.py writes them (moved out of
 * board.js as is; loads before it, assets are served in name order).
 */
(function () {
  'use strict';

  function copy(pos) { var out = {}; Object.keys(pos || {}).forEach(function (k) { out[k] = pos[k]; }); return out; }

  function idKey(id) {
    var p = String(id || '0-0').split('-');
    return [parseInt(p[0], 10) || 0, parseInt(p[1], 10) || 0];
  }

  function idBefore(a, b) {
    var x = idKey(a), y = idKey(b);
    return x[0] < y[0] || (x[0] === y[0] && x[1] < y[1]);
  }

  function posText(pos) {
    // As streams/position.py `encode`: control first, then the towns in order.
    return Object.keys(pos || {}).sort(function (a, b) {
      if (a === b) { return 0; }
      if (a === '~' || b === '~') { return a === '~' ? -1 : 1; }
      return a < b ? -1 : 1;
    }).map(function (k) { return k + '=' + (pos[k] || '0-0'); }).join(';');
  }

  window.wartimeBoardPosition = {copy: copy, idKey: idKey, idBefore: idBefore, posText: posText};
})();
