/*
 * Command board: the polygons' packing and hit test, pure functions of the geometry (moved out of
 * board.js as is; loads before it, assets are served in name order).
 */
(function () {
  'use strict';

  var HIT_BINS = 64;

  function mercY(lat) {
    return Math.log(Math.tan(Math.PI / 4 + lat * Math.PI / 360)) * 180 / Math.PI;
  }

  function packGeo(fc, withKind) {
    // GeoJSON → flat world coordinates (x = lon, y = Mercator lat in degrees), rings and boxes per feature.
    var feats = fc.features || [];
    var nPts = 0, nRings = 0;
    var polysOf = function (g) {
      if (!g) { return []; }
      return g.type === 'Polygon' ? [g.coordinates] : g.type === 'MultiPolygon' ? g.coordinates : [];
    };
    feats.forEach(function (f) {
      polysOf(f.geometry).forEach(function (p) { p.forEach(function (r) { nRings++; nPts += r.length; }); });
    });
    var g = {
      n: feats.length, pts: new Float64Array(nPts * 2), ring: new Int32Array(nRings + 1),
      feat: new Int32Array(feats.length + 1), id: new Int32Array(feats.length), box: new Float64Array(feats.length * 4),
      kind: withKind ? [] : null, code: withKind ? [] : null, all: [Infinity, Infinity, -Infinity, -Infinity]
    };
    var pi = 0, ri = 0;
    feats.forEach(function (f, k) {
      g.id[k] = typeof f.id === 'number' ? f.id : k;
      g.feat[k] = ri;
      if (withKind) {
        g.kind.push(f.properties && f.properties.k === 'scope');
        g.code.push(f.properties ? f.properties.c : null);
      }
      var x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
      polysOf(f.geometry).forEach(function (p) {
        p.forEach(function (r) {
          g.ring[ri++] = pi;
          for (var j = 0; j < r.length; j++) {
            var x = r[j][0], y = mercY(r[j][1]);
            g.pts[pi * 2] = x; g.pts[pi * 2 + 1] = y; pi++;
            if (x < x0) { x0 = x; } if (x > x1) { x1 = x; } if (y < y0) { y0 = y; } if (y > y1) { y1 = y; }
          }
        });
      });
      g.box[k * 4] = x0; g.box[k * 4 + 1] = y0; g.box[k * 4 + 2] = x1; g.box[k * 4 + 3] = y1;
      if (x0 < g.all[0]) { g.all[0] = x0; } if (y0 < g.all[1]) { g.all[1] = y0; }
      if (x1 > g.all[2]) { g.all[2] = x1; } if (y1 > g.all[3]) { g.all[3] = y1; }
    });
    g.feat[feats.length] = ri;
    g.ring[nRings] = pi;
    return g;
  }

  function unpackCells(d) {
    // The packed cells (`cells.json`, see dashboard/components/map.py) → the same shape as packGeo's.
    var n = d.ids.length, nRings = d.lens.length, nPts = d.xy.length / 2, q = d.scale;
    var g = {
      n: n, pts: new Float64Array(nPts * 2), ring: new Int32Array(nRings + 1), feat: new Int32Array(n + 1),
      id: new Int32Array(n), box: new Float64Array(n * 4), kind: null, all: [Infinity, Infinity, -Infinity, -Infinity]
    };
    var ri = 0, pi = 0, ix = 0, iy = 0, xy = d.xy;
    for (var k = 0; k < n; k++) {
      g.id[k] = d.ids[k];
      g.feat[k] = ri;
      var x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
      for (var r = 0; r < d.rings[k]; r++, ri++) {
        g.ring[ri] = pi;
        for (var j = 0; j < d.lens[ri]; j++, pi++) {
          ix += xy[pi * 2]; iy += xy[pi * 2 + 1];
          var x = ix / q, y = mercY(iy / q);
          g.pts[pi * 2] = x; g.pts[pi * 2 + 1] = y;
          if (x < x0) { x0 = x; } if (x > x1) { x1 = x; } if (y < y0) { y0 = y; } if (y > y1) { y1 = y; }
        }
      }
      g.box[k * 4] = x0; g.box[k * 4 + 1] = y0; g.box[k * 4 + 2] = x1; g.box[k * 4 + 3] = y1;
      if (x0 < g.all[0]) { g.all[0] = x0; } if (y0 < g.all[1]) { g.all[1] = y0; }
      if (x1 > g.all[2]) { g.all[2] = x1; } if (y1 > g.all[3]) { g.all[3] = y1; }
    }
    g.feat[n] = ri;
    g.ring[nRings] = pi;
    return g;
  }

  function indexGeo(g) {
    // A uniform grid of bins over the cells' boxes: the hover and click hit test looks at one bin.
    var a = g.all, bins = [];
    for (var b = 0; b < HIT_BINS * HIT_BINS; b++) { bins.push([]); }
    var bw = (a[2] - a[0]) / HIT_BINS || 1, bh = (a[3] - a[1]) / HIT_BINS || 1;
    var clampBin = function (v) { return Math.max(0, Math.min(HIT_BINS - 1, Math.floor(v))); };
    for (var k = 0; k < g.n; k++) {
      var i0 = clampBin((g.box[k * 4] - a[0]) / bw), i1 = clampBin((g.box[k * 4 + 2] - a[0]) / bw);
      var j0 = clampBin((g.box[k * 4 + 1] - a[1]) / bh), j1 = clampBin((g.box[k * 4 + 3] - a[1]) / bh);
      for (var i = i0; i <= i1; i++) { for (var j = j0; j <= j1; j++) { bins[j * HIT_BINS + i].push(k); } }
    }
    g.bins = bins; g.bw = bw; g.bh = bh;
  }

  function insideFeat(g, k, x, y) {
    var inside = false;
    for (var r = g.feat[k]; r < g.feat[k + 1]; r++) {
      for (var a = g.ring[r], b = g.ring[r + 1] - 1, p = a; p <= b; p++) {
        var q = p === a ? b : p - 1;
        var xi = g.pts[p * 2], yi = g.pts[p * 2 + 1], xj = g.pts[q * 2], yj = g.pts[q * 2 + 1];
        if ((yi > y) !== (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi) { inside = !inside; }
      }
    }
    return inside;
  }

  window.wartimeBoardGeo = {HIT_BINS: HIT_BINS, mercY: mercY, packGeo: packGeo, unpackCells: unpackCells,
    indexGeo: indexGeo, insideFeat: insideFeat};
})();
