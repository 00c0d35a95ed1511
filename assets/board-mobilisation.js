/*
 * Big screen: the mobilisation curve under the secretaries panel (assets/board.js calls it).
 *
 * Secretaries on post (本人确认到岗) against minutes since the switch, as a small SVG line, with
 * the minutes to 50 / 90 / 100 % beneath it. The data is the snapshot's `secretaries.curve`
 * ([minutes, on post] after each confirmation, thinned to ≤ 60 points) and `minutes_to`.
 * Stable hook: [data-mob-curve] with data-on-post = the last point's count.
 */
(function () {
  'use strict';

  var W = 320, H = 40, PAD = 2;
  var NS = 'http://www.w3.org/2000/svg';

  function svg(tag, attrs) {
    var e = document.createElementNS(NS, tag);
    Object.keys(attrs).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    return e;
  }

  window.wartimeMobCurve = function (box, s, L) {
    var pts = s.curve || [];
    var total = (s.installed || 0) + (s.acting || 0);
    var wrap = document.createElement('div');
    wrap.className = 'b-mob';
    wrap.setAttribute('data-mob-curve', '');
    wrap.setAttribute('data-on-post', String(pts.length ? pts[pts.length - 1][1] : 0));
    if (pts.length && total) {
      var maxX = Math.max(1, pts[pts.length - 1][0]);
      var x = function (m) { return PAD + (W - 2 * PAD) * m / maxX; };
      var y = function (n) { return H - PAD - (H - 2 * PAD) * n / total; };
      var d = 'M' + x(0) + ',' + y(0) + pts.map(function (p) { return ' L' + x(p[0]).toFixed(1) + ',' + y(p[1]).toFixed(1); }).join('');
      var chart = svg('svg', { viewBox: '0 0 ' + W + ' ' + H, 'class': 'b-mob-svg', preserveAspectRatio: 'none' });
      [0.5, 0.9].forEach(function (f) {
        chart.appendChild(svg('line', { x1: PAD, x2: W - PAD, y1: y(total * f), y2: y(total * f), 'class': 'b-mob-guide' }));
      });
      chart.appendChild(svg('path', { d: d, 'class': 'b-mob-line' }));
      wrap.appendChild(chart);
    }
    var mt = s.minutes_to || {};
    var text = ['50', '90', '100'].map(function (k) {
      return k + '% ' + (mt[k] === null || mt[k] === undefined ? '—' : mt[k] + "'");
    }).join(' · ');
    var cap = document.createElement('div');
    cap.className = 'b-mob-caption';
    cap.textContent = L('board.mob_curve') + ' ' + text;
    wrap.appendChild(cap);
    box.appendChild(wrap);
  };
})();
