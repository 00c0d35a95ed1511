/*
 * A wall's playlist (like Grafana's): rotate views at an interval, on any page of the app.
 *
 *   /?token=…&tv=1&play=PN,PN03,/peacetime&every=30
 *
 * `play` lists the views, comma-separated: a grid code is the board (/) at that scope, a path
 * (`/peacetime`, `/peacetime?scope=PN03`, `/?scope=PN&op=op-…`) is that page. `every` is the
 * interval in seconds (at least MIN_S, default DEFAULT_S). Every view is opened with the
 * playlist's own settings (token, lang, tv, play, every) unless the view names them itself, so
 * the next page goes on rotating. Navigation is Dash pages' (history push): no reload, the
 * assets stay, and the step counter lives here. `document.body[data-playlist-step]` says which
 * view is on (for tests), `[data-playlist-total]` how many there are.
 */
(function () {
  'use strict';

  var MIN_S = 5;
  var DEFAULT_S = 30;
  var CARRIED = ['token', 'lang', 'tv', 'play', 'every'];

  var timer = null;
  var step = -1;
  var running = '';

  function views(q) {
    return (q.get('play') || '').split(',').map(function (v) { return v.trim(); }).filter(Boolean);
  }

  function target(view) {
    // A view as a path and its query.
    if (view.charAt(0) === '/') {
      var cut = view.indexOf('?');
      return {path: cut < 0 ? view : view.slice(0, cut), q: new URLSearchParams(cut < 0 ? '' : view.slice(cut + 1))};
    }
    var q = new URLSearchParams();
    q.set('scope', view);
    return {path: '/', q: q};
  }

  function matches(view, loc) {
    var t = target(view);
    if (t.path !== loc.pathname) { return false; }
    var here = new URLSearchParams(loc.search);
    var ok = true;
    t.q.forEach(function (v, k) { if (here.get(k) !== v) { ok = false; } });
    return ok;
  }

  function go(view, playlist) {
    var t = target(view);
    CARRIED.forEach(function (k) {
      if (!t.q.has(k) && playlist.get(k) !== null) { t.q.set(k, playlist.get(k)); }
    });
    window.history.pushState({}, '', t.path + '?' + t.q.toString());
    window.dispatchEvent(new CustomEvent('_dashprivate_pushstate'));
  }

  function mark(list) {
    if (!document.body) { return; }
    document.body.setAttribute('data-playlist-step', String(step));
    document.body.setAttribute('data-playlist-total', String(list.length));
  }

  function schedule() {
    clearTimeout(timer);
    timer = null;
    var q = new URLSearchParams(window.location.search);
    var list = views(q);
    if (list.length < 2) {
      running = '';
      if (document.body) { document.body.removeAttribute('data-playlist-step'); }
      return;
    }
    var key = list.join(',');
    if (key !== running || step < 0 || !matches(list[step], window.location)) {
      // A new playlist, or a page opened by hand: start from the view on screen, if it is one.
      running = key;
      step = 0;
      for (var i = 0; i < list.length; i++) { if (matches(list[i], window.location)) { step = i; break; } }
    }
    mark(list);
    var every = Math.max(MIN_S, parseFloat(q.get('every')) || DEFAULT_S);
    timer = setTimeout(function () {
      step = (step + 1) % list.length;
      go(list[step], q);
      schedule();
    }, every * 1000);
  }

  window.addEventListener('popstate', schedule);
  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', schedule);
  } else {
    schedule();
  }
  window.wartimePlaylist = {schedule: schedule};
})();
