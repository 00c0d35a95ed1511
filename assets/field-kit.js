/*
 * Field page (/field): settings, state, storage, strings, DOM and fetch helpers.
 * Part of assets/field.js (see there); loads before it, assets are served in name order. Everything
 * is shared through window.wartimeFieldKit (F): state in F.S, every part's functions as F.name.
 */
(function () {
  'use strict';

  var F = window.wartimeFieldKit = window.wartimeFieldKit || {};

  var API = '/api/v1';
  var K_REPORTS = 'wartime.field.reports.v1';
  var REQUEST_TIMEOUT_MS = 15000;

  var S = {
    session: null,
    strings: {},
    lang: 'zh-CN',
    mine: null,
    mineAt: 0,
    mineLive: false,
    skew: 0,
    grid: null,
    op: null,
    form: { counts: {}, note: '', reason: '', correction: false },
    message: null,
    draining: false,
    sending: null,
    backoff: 0,
    retryAt: 0,
    retryTimer: null,
    lastError: '',
    lastPoll: 0,
    formKey: '',
    locate: false,
    where: null,
    photo: null
  };

  /* ---------------------------------------------------------------- storage */

  function load(key, dflt) {
    try {
      var raw = window.localStorage.getItem(key);
      return raw ? JSON.parse(raw) : dflt;
    } catch (e) {
      return dflt;
    }
  }

  function save(key, value) {
    window.localStorage.setItem(key, JSON.stringify(value));
  }

  function readSession() {
    var s = load('session', null);
    return s && typeof s === 'object' && s.token ? s : null;
  }

  function session() {
    return S.session && S.session.token ? S.session : readSession();
  }

  /* ---------------------------------------------------------------- strings */

  function tr(key, fmt) {
    var text = Object.prototype.hasOwnProperty.call(S.strings, key) ? S.strings[key] : key;
    if (fmt) {
      Object.keys(fmt).forEach(function (k) { text = text.split('{' + k + '}').join(String(fmt[k])); });
    }
    return text;
  }

  function pad(n) { return (n < 10 ? '0' : '') + n; }

  /* Punctuation follows the language: full-width in Chinese, ASCII in English. */
  function colon() { return S.lang === 'en' ? ': ' : '：'; }
  function paren(text) { return S.lang === 'en' ? ' (' + text + ')' : '（' + text + '）'; }
  function comma() { return S.lang === 'en' ? ', ' : '，'; }

  /* Wall-clock time in the county's zone (Asia/Shanghai, as command/localtime.py), whatever the phone's zone. */
  var ZONED = (function () {
    try {
      return new Intl.DateTimeFormat('en-GB', { timeZone: 'Asia/Shanghai', hourCycle: 'h23', month: '2-digit',
                                                day: '2-digit', hour: '2-digit', minute: '2-digit' });
    } catch (e) { return null; }
  }());

  function zonedParts(ms) {
    var out = {};
    if (ZONED) {
      ZONED.formatToParts(new Date(ms)).forEach(function (p) { out[p.type] = p.value; });
      return out;
    }
    var d = new Date(ms + 8 * 3600000);  // no Intl: the fixed UTC+8 of localtime.py
    return { month: pad(d.getUTCMonth() + 1), day: pad(d.getUTCDate()), hour: pad(d.getUTCHours()),
             minute: pad(d.getUTCMinutes()) };
  }

  function clock(ms) {
    var d = zonedParts(ms);
    var now = zonedParts(Date.now());
    var hm = d.hour + ':' + d.minute;
    if (d.month === now.month && d.day === now.day && Math.abs(Date.now() - ms) < 86400000) { return hm; }
    return d.month + '-' + d.day + ' ' + hm;
  }

  function fmtNumber(n) {
    try { return Number(n).toLocaleString(S.lang === 'en' ? 'en-US' : 'zh-CN'); } catch (e) { return String(n); }
  }

  /* ---------------------------------------------------------------- DOM */

  /* h('div', {className: 'x', dataset: {...}}, child…): strings become text nodes, never HTML. */
  function h(tag, attrs) {
    var el = document.createElement(tag);
    var a = attrs || {};
    Object.keys(a).forEach(function (k) {
      var v = a[k];
      if (v === null || v === undefined || v === false) { return; }
      if (k === 'className') { el.className = v; }
      else if (k === 'text') { el.textContent = v; }
      else if (k === 'dataset') { Object.keys(v).forEach(function (d) { el.setAttribute('data-' + d, String(v[d])); }); }
      else if (k === 'value') { el.value = v; }
      else if (k === 'checked') { el.checked = !!v; }
      else if (k === 'style') { el.setAttribute('style', v); }
      else { el.setAttribute(k, v === true ? '' : String(v)); }
    });
    for (var i = 2; i < arguments.length; i++) { append(el, arguments[i]); }
    return el;
  }

  function append(el, child) {
    if (child === null || child === undefined || child === false) { return; }
    if (Array.isArray(child)) { child.forEach(function (c) { append(el, c); }); return; }
    el.appendChild(typeof child === 'object' ? child : document.createTextNode(String(child)));
  }

  function fill(el, child) {
    if (!el) { return; }
    while (el.firstChild) { el.removeChild(el.firstChild); }
    append(el, child);
  }

  function byId(id) { return document.getElementById(id); }

  function onFieldPage() { return !!byId('field-root'); }

  /* ---------------------------------------------------------------- data */

  function authHeaders(token) {
    return { 'Authorization': 'Bearer ' + token, 'Content-Type': 'application/json' };
  }

  function timedFetch(url, options) {
    var ctrl = typeof AbortController === 'function' ? new AbortController() : null;
    var timer = ctrl ? setTimeout(function () { ctrl.abort(); }, REQUEST_TIMEOUT_MS) : null;
    var opts = Object.assign({ cache: 'no-store', credentials: 'omit' }, options || {});
    if (ctrl) { opts.signal = ctrl.signal; }
    return window.fetch(url, opts).then(function (r) {
      if (timer) { clearTimeout(timer); }
      return r.text().then(function (text) {
        var data = null;
        try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
        return { status: r.status, data: data };
      });
    }, function (err) {
      if (timer) { clearTimeout(timer); }
      throw err;
    });
  }

  /* ---------------------------------------------------------------- Dash */

  function setProps(id, props) {
    var dc = window.dash_clientside;
    if (dc && typeof dc.set_props === 'function') {
      try { dc.set_props(id, props); return true; } catch (e) { return false; }
    }
    return false;
  }

  Object.assign(F, {  // what the other parts use
    API: API, K_REPORTS: K_REPORTS, S: S, load: load, save: save, session: session, tr: tr, colon: colon,
    paren: paren, comma: comma, clock: clock, fmtNumber: fmtNumber, h: h, fill: fill, byId: byId,
    onFieldPage: onFieldPage, authHeaders: authHeaders, timedFetch: timedFetch, setProps: setProps
  });
})();
