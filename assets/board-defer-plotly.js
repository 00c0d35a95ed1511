/*
 * Command board: Plotly after the map (moved out of board.js as is; loads before it, assets are
 * served in name order). board.js calls `window.wartimeReleasePlotly()` once its map is complete.
 */
(function () {
  'use strict';

  // -- Plotly after the map ------------------------------------------------------------------------
  // dcc.Graph loads plotly.js (4.8 MB, a second or two of script evaluation on a wall without a fast
  // CPU) as soon as a graph mounts, unless `window.Plotly` is already there. On the board the map
  // (canvas) and the numbers do not need it, and that one long task landing before the map's first
  // frame held the whole wall back. So until the map is complete `window.Plotly` is a thenable that
  // dcc.Graph waits on (it does `Promise.resolve(window.Plotly || load())`); the map's completion, a
  // page without a board, or PLOTLY_WAIT_MS, whichever comes first, loads the real one.
  var PLOTLY_WAIT_MS = 6000;
  window.wartimeReleasePlotly = (function () {
    if (window.Plotly) { return function () {}; }
    var waiting = [];
    var started = false;
    function load() {
      if (started) { return; }
      started = true;
      var s = document.createElement('script');
      s.src = window._dashPlotlyJSURL || '/_dash-component-suites/plotly/package_data/plotly.min.js';
      s.async = true;
      s.onload = function () { waiting.splice(0).forEach(function (w) { w[0](); }); };
      s.onerror = function (e) { waiting.splice(0).forEach(function (w) { w[1](e); }); };
      document.head.appendChild(s);
    }
    window.Plotly = {
      then: function (resolve, reject) {
        if (window.Plotly && window.Plotly.then !== this.then) { resolve(); return; }  // the real one is here
        waiting.push([resolve, reject]);
        setTimeout(function () { if (!document.getElementById('board-root')) { load(); } }, 0);
        setTimeout(load, PLOTLY_WAIT_MS);
      }
    };
    return load;
  })();
})();
