/*
 * Command board (/): the live push: connection state, the hub's state and deltas, one update in one task.
 * Part of assets/board.js (see there); loads before it, assets are served in name order. Everything
 * is shared through window.wartimeBoardKit (W): state in W.B, every part's functions as W.name.
 */
(function () {
  'use strict';

  var W = window.wartimeBoardKit = window.wartimeBoardKit || {};

  // -- live push -------------------------------------------------------------------------------------

  function liveUrl() {
    var c = W.B.cfg;
    var q = new URLSearchParams();
    q.set('token', W.B.token);
    if (c.scope) { q.set('scope', c.scope); }
    if (c.op) { q.set('op', c.op); }
    if (c.live_url) { return c.live_url + (c.live_url.indexOf('?') >= 0 ? '&' : '?') + q.toString(); }
    if (!c.live_port) { return null; }
    var proto = window.location.protocol === 'https:' ? 'wss:' : 'ws:';
    return proto + '//' + window.location.hostname + ':' + c.live_port + '/live?' + q.toString();
  }

  function connectLive() {
    var me = W.B;
    me.link = window.wartimeLive.connect({
      url: liveUrl,
      onStatus: function (status, info) { if (W.B === me) { setConn(status, info); } },
      onMessage: function (msg) { if (W.B === me) { onMessage(msg); } }
    });
  }

  function setConn(status, info) {
    var prev = W.B.conn;
    W.B.conn = status;
    W.B.root.setAttribute('data-conn', status);
    W.B.retryAt = info && info.retryAt;
    var text = W.$('board-conn-text');
    text.textContent = status === 'live' ? W.L('board.live') : status === 'connecting' ? W.L('board.connecting') :
      status === 'refused' ? (info && info.code === 4403 ? W.L('board.forbidden') : W.L('login.expired')) : W.L('board.lost');
    if (status === 'live' && (prev === 'lost' || prev === 'refused')) { W.loadSnapshot(); }
  }

  function decodeAges(text, ts) {
    var out = new Float64Array(W.B.n);
    var parts = text ? text.split(',') : [];
    for (var i = 0; i < W.B.n; i++) {
      var p = parts[i];
      out[i] = p ? ts - parseInt(p, 36) * 1000 : 0;
    }
    return out;
  }

  function touchedOf(msg) {
    if (msg.u) { return msg.u; }
    if (!msg.ub) { return []; }
    var raw = atob(msg.ub);
    var out = [];
    for (var b = 0; b < raw.length; b++) {
      var byte = raw.charCodeAt(b);
      if (!byte) { continue; }
      for (var k = 0; k < 8; k++) { if (byte & (1 << k)) { out.push(b * 8 + k); } }
    }
    return out;
  }

  function onMessage(msg) {
    if (msg.ts) { W.B.skew = Date.now() - msg.ts; }
    var now = W.serverNow();
    if (W.B.conn === 'live') { W.LIVE_PANELS.forEach(function (p) { if (p !== 'map' || W.B.map.added) { W.B.updated[p] = now; } }); }
    if (msg.t === 'control') {
      // Alerts come and go every few seconds on a busy county: refetch at most every CONTROL_EVERY_MS.
      if (!W.B.ctlTimer) {
        var wait = Math.max(300, (W.B.snapAt || 0) + W.CONTROL_EVERY_MS - Date.now());
        W.B.ctlTimer = setTimeout(function () { W.B.ctlTimer = null; W.loadSnapshot(); }, wait);
        W.B.timers.push(W.B.ctlTimer);
      }
      return;
    }
    if (msg.t === 'state') { return onState(msg); }
    if (msg.t !== 'd') { return; }
    // One update, one position: everything the message carries is applied first, then every live
    // panel is redrawn from it in this same task (the map as soon as its canvas may be repainted).
    if (msg.at) { Object.keys(msg.at).forEach(function (k) { W.B.at[k] = msg.at[k]; }); }
    if (msg.k) {
      Object.keys(msg.k).forEach(function (op) { W.B.live[op] = msg.k[op]; });
      W.B.dirty.sum = W.B.dirty.curve = true;
    }
    if (msg.c) {
      Object.keys(msg.c).forEach(function (c) { W.B.kids[c] = msg.c[c]; });
      Object.keys(msg.cb || {}).forEach(function (c) { W.B.kidBands[c] = msg.cb[c]; });
      W.B.dirty.bars = W.B.dirty.sum = true;
    }
    if (msg.k || msg.c) { W.B.liveAt = Date.now(); }
    if (msg.b) {
      msg.b.split(',').forEach(function (pair) {
        var cut = pair.indexOf(':');
        var i = +pair.slice(0, cut);
        if (i < W.B.n) { W.B.bands[i] = pair.slice(cut + 1); W.B.map.pending[i] = true; }
      });
      W.B.map.bandsPending = true;
    }
    if (!msg.more) { W.B.bandsAt = W.copy(W.B.at); }  // else the rest of this position's bands are still to come
    var touched = touchedOf(msg);
    if (touched.length && W.B.last) {
      var until = Date.now() + W.HOT_MS;
      touched.forEach(function (i) {
        if (i >= W.B.n) { return; }
        W.B.last[i] = msg.ts;
        if (W.B.fade[i]) { W.B.fade[i] = 0; }
        W.B.hot[i] = until;
        W.B.map.pending[i] = true;
      });
    }
    if (msg.f) {
      W.B.feed = W.B.feed.concat(msg.f).slice(-60);
      W.B.dirty.feed = true;
    }
    commitLive();
  }

  function commitLive() {
    // The live panels, all from the figures of B.at; then every panel's mark. A delta carries every
    // change of the view between two positions, so a panel it does not touch is at the new one as is.
    W.updateTiles(true);
    if (W.B.snap && W.chartsReady()) {
      if (W.B.dirty.bars) { W.drawBars(); }
      if (W.B.dirty.sum) { W.drawSum(); }
      if (W.B.dirty.feed) { W.renderFeed(); }
      if (W.B.dirty.curve && Date.now() - (W.B.curveAt || 0) > W.CURVE_EVERY_MS) { W.drawCurve(); }
      ['bars', 'feed', 'curve'].forEach(function (p) {
        if (!W.B.dirty[p] && W.B.panelAt[p]) { W.B.panelAt[p] = W.copy(W.B.at); }
      });
    }
    if (W.B.map.bandsPending) { soonMap(); }
    W.markInstant();
  }

  function soonMap() {
    // Repaint the canvas for new bands at the next frame, at most every MAP_MIN_MS (a county's canvas
    // costs tens of milliseconds); until then the map marks itself stale.
    if (!W.B || W.B.map.soon || !W.B.map.complete) { return; }
    var me = W.B;
    var wait = Math.max(0, (W.B.map.drawAt || 0) + W.MAP_MIN_MS - Date.now());
    W.B.map.soon = setTimeout(function () {
      requestAnimationFrame(function () {
        if (W.B !== me) { return; }
        me.map.soon = null;
        W.flushMap();
        W.markInstant();
      });
    }, wait);
  }

  function onState(msg) {
    W.mark('state');
    W.B.gotState = true;
    W.B.n = msg.n;
    W.B.bands = msg.bands.split('');
    W.B.last = decodeAges(msg.ages, msg.ts);
    W.B.fade = new Uint8Array(W.B.n);
    W.B.hot = {};
    W.B.live = msg.k || {};
    W.B.kids = msg.c || {};
    W.B.kidBands = msg.cb || {};
    W.B.feed = msg.f || [];
    W.B.at = W.copy(msg.at || {});
    W.B.bandsAt = W.copy(W.B.at);
    W.B.map.bandsPending = true;
    W.B.liveAt = Date.now();
    W.B.dirty.bars = W.B.dirty.sum = W.B.dirty.curve = W.B.dirty.feed = true;
    W.updateTiles();
    W.drawCharts(true);
    if (W.B.map.added) { W.queueAllCells(); W.flushMap(); }
    var now = W.serverNow();
    W.LIVE_PANELS.forEach(function (p) { W.B.updated[p] = now; });
    W.markInstant();
    if (W.B.snap && W.B.snap.view.ops.join() !== msg.ops.join()) { W.loadSnapshot(); }
  }

  W.liveUrl = liveUrl;
  W.connectLive = connectLive;
  W.setConn = setConn;
  W.decodeAges = decodeAges;
  W.touchedOf = touchedOf;
  W.onMessage = onMessage;
  W.commitLive = commitLive;
  W.soonMap = soonMap;
  W.onState = onState;
})();
