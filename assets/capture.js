/*
 * Camera and position for the phone pages (/field, /field/matters): one copy, used by both.
 *
 * window.wartimeCapture:
 *   resize(file)      → Promise of { dataUrl, width, height, bytes, thumb }: the picture drawn on a
 *                       canvas with its longest side at most 1280 px, as JPEG of quality 0.7 (a phone's
 *                       photo becomes 100–300 KB), and a 160 px thumbnail (a few KB) to show in lists;
 *   locate(done)      one position fix when asked: done({ lat, lon, accuracy, at }) or done(null);
 *   put(id, dataUrl), get(id), drop(id)
 *                     photos waiting in the offline queue, in IndexedDB (database wartime-photos):
 *                     localStorage holds ~5 MB in all, IndexedDB a share of the disk, so the queue's
 *                     photos stay out of the report list (a thumbnail only goes there);
 *   showPhotos()      every <img data-photo-src="/api/v1/..."> gets its image fetched with the session's
 *                     bearer token (never a token in a URL) and shown from a blob: URL.
 * The server checks the picture again (size, JPEG/PNG bytes) and keeps it by its digest.
 */
(function () {
  'use strict';

  var MAX_SIDE = 1280;
  var QUALITY = 0.7;
  var THUMB_SIDE = 160;
  var DB_NAME = 'wartime-photos';
  var STORE = 'photos';

  function draw(img, side, quality) {
    var w = img.naturalWidth || img.width;
    var h = img.naturalHeight || img.height;
    var scale = Math.min(1, side / Math.max(w, h));
    var cw = Math.max(1, Math.round(w * scale));
    var ch = Math.max(1, Math.round(h * scale));
    var canvas = document.createElement('canvas');
    canvas.width = cw;
    canvas.height = ch;
    var g = canvas.getContext('2d');
    g.fillStyle = '#fff';  /* a PNG's transparency becomes white, not black */
    g.fillRect(0, 0, cw, ch);
    g.drawImage(img, 0, 0, cw, ch);
    return { dataUrl: canvas.toDataURL('image/jpeg', quality), width: cw, height: ch };
  }

  function resize(file) {
    return new Promise(function (resolve, reject) {
      if (!file || !/^image\//.test(file.type || 'image/')) { reject(new Error('not an image')); return; }
      var url = URL.createObjectURL(file);
      var img = new Image();
      img.onload = function () {
        try {
          var big = draw(img, MAX_SIDE, QUALITY);
          var small = draw(img, THUMB_SIDE, 0.6);
          var b64 = big.dataUrl.slice(big.dataUrl.indexOf(',') + 1);
          big.bytes = Math.floor(b64.length * 3 / 4);
          big.thumb = small.dataUrl;
          resolve(big);
        } catch (e) { reject(e); } finally { URL.revokeObjectURL(url); }
      };
      img.onerror = function () { URL.revokeObjectURL(url); reject(new Error('unreadable image')); };
      img.src = url;  /* the browser applies the photo's EXIF orientation when it decodes it */
    });
  }

  function locate(done) {
    if (!navigator.geolocation) { done(null); return; }
    navigator.geolocation.getCurrentPosition(function (pos) {
      var c = pos.coords;
      done({ lat: Math.round(c.latitude * 1e6) / 1e6, lon: Math.round(c.longitude * 1e6) / 1e6,
             accuracy: Math.min(10000, Math.max(0, Math.round(c.accuracy || 0))), at: Date.now() });
    }, function () { done(null); }, { enableHighAccuracy: true, timeout: 10000, maximumAge: 60000 });
  }

  /* ---------------------------------------------------------------- the queue's photos */

  var opened = null;
  function db() {
    if (!opened) {
      opened = new Promise(function (resolve, reject) {
        if (!window.indexedDB) { reject(new Error('no IndexedDB')); return; }
        var req = window.indexedDB.open(DB_NAME, 1);
        req.onupgradeneeded = function () { req.result.createObjectStore(STORE); };
        req.onsuccess = function () { resolve(req.result); };
        req.onerror = function () { reject(req.error); };
      });
      opened.catch(function () { opened = null; });
    }
    return opened;
  }

  function tx(mode, run) {
    return db().then(function (d) {
      return new Promise(function (resolve, reject) {
        var t = d.transaction(STORE, mode);
        var req = run(t.objectStore(STORE));
        t.oncomplete = function () { resolve(req ? req.result : undefined); };
        t.onerror = t.onabort = function () { reject(t.error); };
      });
    });
  }

  function put(id, dataUrl) { return tx('readwrite', function (s) { return s.put(dataUrl, id); }); }
  function get(id) { return tx('readonly', function (s) { return s.get(id); }); }
  function drop(id) { return tx('readwrite', function (s) { return s['delete'](id); }).catch(function () {}); }

  /* ---------------------------------------------------------------- photos the server keeps */

  function token() {
    try {
      var s = JSON.parse(window.localStorage.getItem('session') || 'null');
      return s && s.token ? s.token : '';
    } catch (e) { return ''; }
  }

  var shown = {};
  function showPhotos() {
    var imgs = document.querySelectorAll('img[data-photo-src]');
    Array.prototype.forEach.call(imgs, function (img) {
      var src = img.getAttribute('data-photo-src');
      if (img.getAttribute('data-photo-shown') === src) { return; }
      img.setAttribute('data-photo-shown', src);
      if (shown[src]) { img.src = shown[src]; return; }
      var t = token();
      if (!t) { return; }
      window.fetch(src, { headers: { Authorization: 'Bearer ' + t } }).then(function (r) {
        if (!r.ok) { throw new Error('HTTP ' + r.status); }
        return r.blob();
      }).then(function (blob) {
        shown[src] = URL.createObjectURL(blob);
        img.src = shown[src];
      }).catch(function () { img.removeAttribute('data-photo-shown'); img.hidden = true; });
    });
  }

  if (window.MutationObserver) {
    var pending = false;
    new MutationObserver(function () {
      if (pending) { return; }
      pending = true;
      setTimeout(function () { pending = false; showPhotos(); }, 50);
    }).observe(document.documentElement, { childList: true, subtree: true });
  }

  window.wartimeCapture = {
    MAX_SIDE: MAX_SIDE, resize: resize, locate: locate, put: put, get: get, drop: drop, showPhotos: showPhotos
  };
})();
