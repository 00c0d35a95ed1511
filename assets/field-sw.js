/*
 * Service worker of the field page (/field): the page must open with no network.
 *
 * Served by the API at /api/v1/field/sw.js with `Service-Worker-Allowed: /field`
 * and registered by field.js with scope /field. Dash also loads every file of
 * assets/ as a page script, so everything below runs only inside a service
 * worker global scope.
 *
 * What is cached (Cache API, never the API's data):
 *  - the page itself, /_dash-layout and /_dash-dependencies: network first,
 *    the cached copy when the network fails or is too slow;
 *  - scripts, styles and fonts (/assets/, /_dash-component-suites/): cache first;
 *  - the Dash pages router's answer for /field (a POST to
 *    /_dash-update-component whose outputs include `_pages_content`): network
 *    first, kept under a key made of the page's path and query.
 * /api/ requests are never touched: reports go to the network from the page,
 * and field.js keeps them queued in localStorage until the server acknowledges.
 */
(function () {
  'use strict';
  if (typeof ServiceWorkerGlobalScope === 'undefined' || !(self instanceof ServiceWorkerGlobalScope)) {
    return;
  }

  var CACHE = 'wartime-field-v1';
  var NETWORK_TIMEOUT_MS = 4000;
  var ROUTE_KEY = '/field/__sw/route';

  function sameOrigin(url) {
    return url.origin === self.location.origin;
  }

  function withTimeout(promise, ms) {
    return new Promise(function (resolve, reject) {
      var timer = setTimeout(function () { reject(new Error('timeout')); }, ms);
      promise.then(function (v) { clearTimeout(timer); resolve(v); },
                   function (e) { clearTimeout(timer); reject(e); });
    });
  }

  function put(key, response) {
    if (!response || !response.ok) { return Promise.resolve(); }
    return caches.open(CACHE).then(function (cache) { return cache.put(key, response); });
  }

  function cachedPage(request) {
    return caches.open(CACHE).then(function (cache) {
      return cache.match(request).then(function (hit) {
        if (hit) { return hit; }
        // Dash serves the same page for every path: any cached /field page will do.
        return cache.match(new Request(self.location.origin + '/field'), { ignoreSearch: true });
      });
    });
  }

  function networkFirst(request) {
    return withTimeout(fetch(request), NETWORK_TIMEOUT_MS).then(function (response) {
      put(request, response.clone());
      return response;
    }).catch(function () {
      var cached = request.mode === 'navigate' ? cachedPage(request)
        : caches.open(CACHE).then(function (cache) { return cache.match(request); });
      return cached.then(function (hit) { return hit || Response.error(); });
    });
  }

  function cacheFirst(request) {
    return caches.open(CACHE).then(function (cache) {
      return cache.match(request).then(function (hit) {
        if (hit) { return hit; }
        return fetch(request).then(function (response) {
          put(request, response.clone());
          return response;
        });
      });
    });
  }

  /* The router's request body names the page: its path and query. */
  function routeKey(body) {
    try {
      var data = JSON.parse(body);
      var outputs = JSON.stringify(data.outputs || data.output || '');
      if (outputs.indexOf('_pages_content') < 0) { return null; }
      var path = '', search = '';
      (data.inputs || []).forEach(function (inp) {
        if (inp && inp.id === '_pages_location' && inp.property === 'pathname') { path = inp.value || ''; }
        if (inp && inp.id === '_pages_location' && inp.property === 'search') { search = inp.value || ''; }
      });
      if (path.indexOf('/field') !== 0) { return null; }
      return { exact: ROUTE_KEY + '?p=' + encodeURIComponent(path) + '&s=' + encodeURIComponent(search),
               any: ROUTE_KEY + '?p=' + encodeURIComponent(path) };
    } catch (e) {
      return null;
    }
  }

  function routeFallback(key) {
    return caches.open(CACHE).then(function (cache) {
      return cache.match(key.exact).then(function (hit) {
        if (hit) { return hit; }
        // Same page, another query (e.g. ?lang=en): take any stored route of that path.
        return cache.keys().then(function (keys) {
          var prefix = self.location.origin + key.any;
          for (var i = 0; i < keys.length; i++) {
            var u = keys[i].url;
            if (u === prefix || u.indexOf(prefix + '&') === 0) { return cache.match(keys[i]); }
          }
          return null;
        });
      });
    });
  }

  function dashCallback(request) {
    return request.clone().text().then(function (body) {
      var key = routeKey(body);
      if (!key) { return fetch(request); }
      return withTimeout(fetch(request), NETWORK_TIMEOUT_MS).then(function (response) {
        put(new Request(self.location.origin + key.exact), response.clone());
        return response;
      }).catch(function () {
        return routeFallback(key).then(function (hit) { return hit || Response.error(); });
      });
    });
  }

  /* field.js sends what the open page used, so that a first visit is enough to work offline. */
  function warm(message) {
    var urls = (message.urls || []).filter(function (u) {
      try {
        var url = new URL(u, self.location.origin);
        return sameOrigin(url) && url.pathname.indexOf('/api/') !== 0 &&
          url.pathname.indexOf('/_dash-update-component') < 0;
      } catch (e) { return false; }
    });
    var jobs = urls.map(function (u) {
      return fetch(u, { credentials: 'same-origin' }).then(function (r) { return put(u, r); })
        .catch(function () { /* offline: keep what we have */ });
    });
    (message.routes || []).forEach(function (body) {
      var key = routeKey(body);
      if (!key) { return; }
      jobs.push(fetch(self.location.origin + '/_dash-update-component', {
        method: 'POST', body: body, headers: { 'Content-Type': 'application/json' },
        credentials: 'same-origin'
      }).then(function (r) { return put(new Request(self.location.origin + key.exact), r); })
        .catch(function () { /* offline */ }));
    });
    return Promise.all(jobs);
  }

  self.addEventListener('install', function (event) {
    event.waitUntil(self.skipWaiting());
  });

  self.addEventListener('activate', function (event) {
    event.waitUntil(caches.keys().then(function (names) {
      return Promise.all(names.filter(function (n) {
        return n.indexOf('wartime-field-') === 0 && n !== CACHE;
      }).map(function (n) { return caches.delete(n); }));
    }).then(function () { return self.clients.claim(); }));
  });

  self.addEventListener('message', function (event) {
    var data = event.data || {};
    if (data.type === 'warm') {
      var done = warm(data).then(function () {
        if (event.source && event.source.postMessage) { event.source.postMessage({ type: 'warmed' }); }
      });
      if (event.waitUntil) { event.waitUntil(done); }
    }
  });

  self.addEventListener('fetch', function (event) {
    var request = event.request;
    var url = new URL(request.url);
    if (!sameOrigin(url) || url.pathname.indexOf('/api/') === 0) { return; }
    if (request.method === 'POST' && /\/_dash-update-component$/.test(url.pathname)) {
      event.respondWith(dashCallback(request));
      return;
    }
    if (request.method !== 'GET') { return; }
    if (request.mode === 'navigate' || url.pathname === '/_dash-layout' || url.pathname === '/_dash-dependencies') {
      event.respondWith(networkFirst(request));
      return;
    }
    if (url.pathname.indexOf('/assets/') === 0 || url.pathname.indexOf('/_dash-component-suites/') === 0 ||
        url.pathname.indexOf('/_favicon') === 0) {
      event.respondWith(cacheFirst(request));
    }
  });
})();
