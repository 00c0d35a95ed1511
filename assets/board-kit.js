/*
 * Command board (/): the shared kit: settings, the page's state (W.B), formatting and DOM helpers.
 * Part of assets/board.js (see there); loads before it, assets are served in name order. Everything
 * is shared through window.wartimeBoardKit (W): state in W.B, every part's functions as W.name.
 */
(function () {
  'use strict';

  var W = window.wartimeBoardKit = window.wartimeBoardKit || {};

  var API = '/api/v1';
  var SNAPSHOT_EVERY_MS = 30000;
  var SNAPSHOT_RETRY_MS = 5000;
  var SNAPSHOT_AFTER_GEO_MS = 1500;
  var CONTROL_EVERY_MS = 5000;
  var MAP_BATCH_MS = 2500;
  var FADE_EVERY_MS = 15000;
  var CHART_EVERY_MS = 1000;
  var CURVE_EVERY_MS = 3000;
  var MAP_MIN_MS = 400;
  var QUIET_MS = 1500;
  var SNAPSHOT_QUIET_MS = 3000;
  var HOT_MS = 9000;
  var BUMP_EVERY_MS = 4000;
  var CHARTS_WAIT_MS = 20000;
  var FEED_SHOW = 14;
  var FADE_MS = [10 * 60000, 30 * 60000, 2 * 3600000];
  var LIVE_PANELS = ['kpi', 'map', 'bars', 'feed'];
  var SNAP_PANELS = ['sec', 'alerts', 'slow', 'curve', 'hh'];
  var PANELS = ['kpi', 'sec', 'alerts', 'map', 'feed', 'bars', 'curve', 'slow', 'hh'];
  var PANEL_STREAMS = {sec: ['~'], alerts: ['~']};  // what a panel's figures come from (default: every stream)
  // Colour bands are the server's (dashboard/components/bands.py): the config carries the palette, the
  // ramp and legend, the bands that never fade and every band's text; the hub and the snapshot send
  // each cell's and each bar's band. Nothing here decides a band.

  W.B = null;

  var releasePlotly = window.wartimeReleasePlotly;  // assets/board-defer-plotly.js

  function hasPlotly() { return !!(window.Plotly && window.Plotly.relayout); }

  // -- small helpers ------------------------------------------------------------------------

  function el(tag, cls, text, attrs) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined && text !== null) { e.textContent = String(text); }
    if (attrs) { Object.keys(attrs).forEach(function (k) { e.setAttribute(k, attrs[k]); }); }
    return e;
  }

  function $(id) { return document.getElementById(id); }

  function L(key, params) {
    var s = (W.B && W.B.labels && W.B.labels[key]) || key;
    if (params) {
      Object.keys(params).forEach(function (k) { s = s.split('{' + k + '}').join(String(params[k])); });
    }
    return s;
  }

  function locale() { return W.B && W.B.lang === 'en' ? 'en-US' : 'zh-CN'; }

  // Punctuation of the wall's language: full-width in Chinese, ASCII in English.
  function colon() { return W.B && W.B.lang === 'en' ? ': ' : '：'; }

  function paren(text) { return W.B && W.B.lang === 'en' ? ' (' + text + ')' : '（' + text + '）'; }

  function fmt(n) {
    if (n === null || n === undefined || isNaN(n)) { return '—'; }
    return Math.round(n).toLocaleString(locale());
  }

  function pct(done, target) {
    if (!target) { return null; }
    return done * 100 / target;
  }

  function fmtPct(p) {
    if (p === null) { return '—'; }
    return (p >= 99.95 && p < 100 ? 99.9 : p).toFixed(1) + '%';
  }

  function serverNow() { return Date.now() - (W.B ? W.B.skew : 0); }

  function pad(n) { return (n < 10 ? '0' : '') + n; }

  /* The county's wall clock (command/localtime.py: Asia/Shanghai, a fixed UTC+8 the server sends), never the
     browser's zone: a Date shifted by the offset and read with its UTC getters. */
  function zoned(ms) { return new Date(ms + ((W.B && W.B.cfg.zone_offset_ms) || 0)); }

  function localIso(ms) {
    var d = zoned(ms);
    return d.getUTCFullYear() + '-' + pad(d.getUTCMonth() + 1) + '-' + pad(d.getUTCDate()) + ' ' +
      pad(d.getUTCHours()) + ':' + pad(d.getUTCMinutes()) + ':' + pad(d.getUTCSeconds());
  }

  function fmtTime(ms, withDate) {
    var d = zoned(ms);
    var hm = pad(d.getUTCHours()) + ':' + pad(d.getUTCMinutes());
    return withDate ? pad(d.getUTCMonth() + 1) + '-' + pad(d.getUTCDate()) + ' ' + hm : hm + ':' + pad(d.getUTCSeconds());
  }

  function fmtAgo(ms) {
    var s = Math.max(0, Math.round(ms / 1000));
    if (s < 60) { return L('board.ago_s', {n: s}); }
    if (s < 3600) { return L('board.ago_m', {n: Math.floor(s / 60)}); }
    if (s < 86400) { return L('board.ago_h', {n: Math.floor(s / 3600)}); }
    return L('board.ago_d', {n: Math.floor(s / 86400)});
  }

  function fmtSpan(ms) {
    var m = Math.round(Math.abs(ms) / 60000);
    var d = Math.floor(m / 1440);
    var h = Math.floor((m % 1440) / 60);
    var mm = m % 60;
    if (W.B.lang === 'en') {
      return (d ? d + ' d ' : '') + (d || h ? h + ' h ' : '') + (d ? '' : mm + ' min');
    }
    return (d ? d + '天' : '') + (d || h ? h + '小时' : '') + (d ? '' : mm + '分');
  }

  function fmtElapsed(ms) {
    var s = Math.max(0, Math.floor(ms / 1000));
    var d = Math.floor(s / 86400);
    var rest = pad(Math.floor((s % 86400) / 3600)) + ':' + pad(Math.floor((s % 3600) / 60)) + ':' + pad(s % 60);
    if (!d) { return rest; }
    return (W.B.lang === 'en' ? d + ' d ' : d + '天 ') + rest;
  }

  function clear(node) { while (node && node.firstChild) { node.removeChild(node.firstChild); } }

  function setProps(id, props) {
    var dc = window.dash_clientside;
    if (dc && dc.set_props) {
      try { dc.set_props(id, props); } catch (e) { console.warn(e); }
    }
  }

  function graph(id) {
    var g = $(id);
    return g ? g.querySelector('.js-plotly-plot') : null;
  }

  function api(path) {
    return fetch(API + path, {headers: {Authorization: 'Bearer ' + W.B.token}, cache: 'no-cache'});
  }


  // assets/board-position.js
  // (board-position.js loads after this file: looked up at call time)
  function copy(pos) { return window.wartimeBoardPosition.copy(pos); }
  function idBefore(a, b) { return window.wartimeBoardPosition.idBefore(a, b); }
  function posText(pos) { return window.wartimeBoardPosition.posText(pos); }

  function mark(name) {
    try { performance.mark('board:' + name); } catch (e) { /* old browser */ }
  }

  W.API = API;
  W.SNAPSHOT_EVERY_MS = SNAPSHOT_EVERY_MS;
  W.SNAPSHOT_RETRY_MS = SNAPSHOT_RETRY_MS;
  W.SNAPSHOT_AFTER_GEO_MS = SNAPSHOT_AFTER_GEO_MS;
  W.CONTROL_EVERY_MS = CONTROL_EVERY_MS;
  W.MAP_BATCH_MS = MAP_BATCH_MS;
  W.FADE_EVERY_MS = FADE_EVERY_MS;
  W.CHART_EVERY_MS = CHART_EVERY_MS;
  W.CURVE_EVERY_MS = CURVE_EVERY_MS;
  W.MAP_MIN_MS = MAP_MIN_MS;
  W.QUIET_MS = QUIET_MS;
  W.SNAPSHOT_QUIET_MS = SNAPSHOT_QUIET_MS;
  W.HOT_MS = HOT_MS;
  W.BUMP_EVERY_MS = BUMP_EVERY_MS;
  W.CHARTS_WAIT_MS = CHARTS_WAIT_MS;
  W.FEED_SHOW = FEED_SHOW;
  W.FADE_MS = FADE_MS;
  W.LIVE_PANELS = LIVE_PANELS;
  W.SNAP_PANELS = SNAP_PANELS;
  W.PANELS = PANELS;
  W.PANEL_STREAMS = PANEL_STREAMS;
  W.releasePlotly = releasePlotly;
  W.hasPlotly = hasPlotly;
  W.el = el;
  W.$ = $;
  W.L = L;
  W.locale = locale;
  W.colon = colon;
  W.paren = paren;
  W.fmt = fmt;
  W.pct = pct;
  W.fmtPct = fmtPct;
  W.serverNow = serverNow;
  W.pad = pad;
  W.zoned = zoned;
  W.localIso = localIso;
  W.fmtTime = fmtTime;
  W.fmtAgo = fmtAgo;
  W.fmtSpan = fmtSpan;
  W.fmtElapsed = fmtElapsed;
  W.clear = clear;
  W.setProps = setProps;
  W.graph = graph;
  W.api = api;
  W.copy = copy;
  W.idBefore = idBefore;
  W.posText = posText;
  W.mark = mark;
})();
