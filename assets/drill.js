/*
 * Drills (演练, DESIGN §7.4): a page opened with ?drill=ID acts in that drill's world, and says so.
 *
 * Every same-origin call of the page (its own fetches, Dash callbacks) carries the header
 * X-Wartime-Drill: ID, the live push is opened with &drill=ID, and URL changes keep ?drill=ID, so
 * board.js, field.js and the console work unchanged inside a drill (dashboard/api_drills.py picks
 * the world from them). The banner (dashboard/components/drill_banner.py; added here on pages
 * that do not render it) shows the drill's clock and state, kept current from GET /api/v1/drills/ID
 * ([data-drill-clock] on the banner).
 *
 * The console's drill card (#drill-card) starts, pauses, resumes and stops drills.
 */
(function () {
  'use strict';
  var API = '/api/v1';
  var HEADER = 'X-Wartime-Drill';
  var m = /[?&]drill=(drill-[0-9a-f]{8})(?:&|$)/.exec(window.location.search);
  var DRILL = m ? m[1] : null;
  var token = null;

  function storedToken() {
    try {
      var s = JSON.parse(window.localStorage.getItem('session') || 'null');
      return s && s.token ? 'Bearer ' + s.token : null;
    } catch (e) { return null; }
  }
  function auth() { return token || storedToken(); }

  var origFetch = window.fetch.bind(window);
  if (DRILL) {
    window.wartimeDrill = DRILL;
    document.documentElement.setAttribute('data-drill', DRILL);
    window.fetch = function (input, init) {
      var url = typeof input === 'string' ? input : (input && input.url) || '';
      if (url.charAt(0) === '/' || url.indexOf(window.location.origin) === 0) {
        init = init || {};
        var headers = new Headers(init.headers || (typeof input !== 'string' && input.headers) || {});
        if (!headers.has(HEADER)) { headers.set(HEADER, DRILL); }
        if (headers.get('Authorization')) { token = headers.get('Authorization'); }
        init.headers = headers;
      }
      return origFetch(input, init);
    };
    var OrigWS = window.WebSocket;
    var DrillWS = function (url, protocols) {
      try {
        var u = new URL(url, window.location.href);
        if (u.pathname.indexOf('/live') >= 0 && !u.searchParams.get('drill')) {
          u.searchParams.set('drill', DRILL);
          url = u.toString();
        }
      } catch (e) { /* keep the URL as given */ }
      return protocols === undefined ? new OrigWS(url) : new OrigWS(url, protocols);
    };
    DrillWS.prototype = OrigWS.prototype;
    ['CONNECTING', 'OPEN', 'CLOSING', 'CLOSED'].forEach(function (k) { DrillWS[k] = OrigWS[k]; });
    window.WebSocket = DrillWS;
    ['pushState', 'replaceState'].forEach(function (name) {
      var orig = window.history[name].bind(window.history);
      window.history[name] = function (state, title, url) {
        if (url) {
          try {
            var u = new URL(url, window.location.href);
            if (!u.searchParams.get('drill')) { u.searchParams.set('drill', DRILL); url = u.pathname + u.search + u.hash; }
          } catch (e) { /* keep it */ }
        }
        return orig(state, title, url);
      };
    });
  }

  function lang() {
    var el = document.querySelector('#board-root[lang]') || document.documentElement;
    return (el.getAttribute('lang') || 'zh-CN').indexOf('en') === 0 ? 'en' : 'zh-CN';
  }
  var STATES = {
    'zh-CN': {running: '进行中', paused: '已暂停', stopped: '已停止', finished: '已结束'},
    en: {running: 'running', paused: 'paused', stopped: 'stopped', finished: 'finished'}
  };
  function clockText(ms) {
    try {
      return new Date(ms).toLocaleString(lang() === 'en' ? 'en-GB' : 'zh-CN', {timeZone: 'Asia/Shanghai', hour12: false});
    } catch (e) { return new Date(ms).toISOString(); }
  }

  function ensureBanner() {
    var b = document.getElementById('drill-banner');
    if (b || window.location.pathname === '/') { return b; }
    b = document.createElement('div');
    b.id = 'drill-banner';
    b.className = 'drill-banner drill-banner-fixed';
    b.setAttribute('role', 'alert');
    b.setAttribute('data-drill', DRILL);
    b.innerHTML = '<strong class="drill-banner-mark">演练 · DRILL</strong>' +
      '<span class="drill-banner-text">' + (lang() === 'en' ? 'this page acts in a drill, not live' :
        '本页操作在演练中，不影响实战') + '</span>' +
      '<span class="drill-banner-time"><span class="drill-banner-clock">—</span></span>' +
      '<span class="drill-banner-state"></span>';
    document.body.insertBefore(b, document.body.firstChild);
    document.body.classList.add('in-drill');
    return b;
  }

  function poll() {
    var b = ensureBanner();
    var a = auth();
    if (!b || !a) { return; }
    origFetch(API + '/drills/' + DRILL, {headers: {Authorization: a}, cache: 'no-store'}).then(function (r) {
      return r.ok ? r.json() : null;
    }).then(function (d) {
      if (!d) { return; }
      b.setAttribute('data-drill-clock', String(d.clock));
      b.setAttribute('data-drill-state', d.state);
      var c = b.querySelector('.drill-banner-clock');
      if (c) { c.textContent = clockText(d.clock) + ' · ' + d.speed + '×'; }
      var s = b.querySelector('.drill-banner-state');
      if (s) { s.textContent = (STATES[lang()] || STATES.en)[d.state] || d.state; }
    }).catch(function () { /* next round */ });
  }

  // -- the console's card --------------------------------------------------------------------
  function card() { return document.getElementById('drill-card'); }
  function call(method, path, body) {
    var a = auth();
    var opts = {method: method, headers: {Authorization: a || '', 'Content-Type': 'application/json'}, cache: 'no-store'};
    if (body) { opts.body = JSON.stringify(body); }
    return origFetch(API + path, opts).then(function (r) {
      return r.json().then(function (j) { return {status: r.status, body: j}; });
    });
  }
  function say(text) { var el = card() && card().querySelector('.drill-msg'); if (el) { el.textContent = text; } }
  function refreshCard() {
    var c = card();
    if (!c || !auth()) { return; }
    call('GET', '/drills').then(function (res) {
      var list = c.querySelector('.drill-list');
      if (!list || res.status !== 200) { return; }
      var labels = (c.getAttribute('data-labels') || 'pause|resume|stop|open').split('|');
      list.innerHTML = '';
      (res.body.drills || []).slice().reverse().forEach(function (d) {
        var li = document.createElement('li');
        li.setAttribute('data-drill-id', d.drill_id);
        li.setAttribute('data-state', d.state);
        var text = document.createElement('span');
        text.textContent = d.name + ' · ' + d.speed + '× · ' + ((STATES[lang()] || STATES.en)[d.state] || d.state) +
          ' · ' + clockText(d.clock);
        li.appendChild(text);
        var acts = d.state === 'running' ? [['pause', labels[0]], ['stop', labels[2]]] :
          d.state === 'paused' ? [['resume', labels[1]], ['stop', labels[2]]] : [];
        acts.forEach(function (act) {
          var btn = document.createElement('button');
          btn.className = 'drill-btn';
          btn.textContent = act[1];
          btn.setAttribute('data-drill-action', act[0]);
          btn.setAttribute('data-drill-target', d.drill_id);
          li.appendChild(btn);
        });
        var link = document.createElement('a');
        link.href = '/?drill=' + d.drill_id;
        link.target = '_blank';
        link.textContent = labels[3];
        li.appendChild(link);
        list.appendChild(li);
      });
    }).catch(function () { /* next round */ });
  }
  document.addEventListener('click', function (ev) {
    var el = ev.target && ev.target.closest ? ev.target.closest('[data-drill-action]') : null;
    if (!el || !card() || !card().contains(el)) { return; }
    var act = el.getAttribute('data-drill-action');
    var done = function (res) {
      say(res.status < 300 ? (res.body.drill_id + ' · ' + res.body.state) :
        ((res.body.error || {}).message || ('HTTP ' + res.status)));
      refreshCard();
    };
    if (act === 'start') {
      var c = card();
      var v = function (id) { var i = document.getElementById(id); return i ? i.value : ''; };
      call('POST', '/drills', {from_operation: v('drill-from'), name: v('drill-name'), speed: Number(v('drill-speed'))})
        .then(done);
    } else {
      call('POST', '/drills/' + el.getAttribute('data-drill-target') + '/' + act).then(done);
    }
  });

  window.setInterval(function () {
    if (DRILL) { poll(); }
    refreshCard();
  }, 2000);
  window.addEventListener('load', function () { if (DRILL) { poll(); } refreshCard(); });
}());
