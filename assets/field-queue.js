/*
 * Field page (/field): the offline queue — every report and field action saved on the phone
 * first, sent one at a time, oldest first, retried with backoff until the server answers.
 * Part of assets/field.js (see there); loads before it, assets are served in name order. Everything
 * is shared through window.wartimeFieldKit (F): state in F.S, every part's functions as F.name.
 */
(function () {
  'use strict';

  var F = window.wartimeFieldKit = window.wartimeFieldKit || {};
  var API = F.API, K_REPORTS = F.K_REPORTS, S = F.S, load = F.load, save = F.save, session = F.session,
      authHeaders = F.authHeaders, timedFetch = F.timedFetch;

  var KEEP_DONE = 50;
  var BACKOFF_MIN_MS = 1000;
  var BACKOFF_MAX_MS = 30000;

  /* ---------------------------------------------------------------- the stored list */

  function reports() {
    var list = load(K_REPORTS, []);
    return Array.isArray(list) ? list : [];
  }

  /* Read-modify-write of the report list; always from storage, so other tabs' changes are kept. */
  function updateReports(change) {
    var list = reports();
    change(list);
    var done = list.filter(function (r) { return r.state !== 'queued'; });
    var drop = done.length - KEEP_DONE;
    if (drop > 0) {
      var old = {};
      done.slice(0, drop).forEach(function (r) { old[r.report_id] = true; });
      list = list.filter(function (r) { return !old[r.report_id]; });
    }
    save(K_REPORTS, list);
    return list;
  }

  function mark(reportId, fields) {
    updateReports(function (list) {
      list.forEach(function (r) {
        if (r.report_id === reportId) {
          Object.keys(fields).forEach(function (k) { r[k] = fields[k]; });
        }
      });
    });
  }

  function queued() {
    return reports().filter(function (r) { return r.state === 'queued'; });
  }

  function newReportId() {
    if (window.crypto && typeof window.crypto.randomUUID === 'function') {
      return window.crypto.randomUUID();
    }
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return 'r-' + Array.prototype.map.call(bytes, function (b) {
      return ('0' + b.toString(16)).slice(-2);
    }).join('');
  }

  /* ---------------------------------------------------------------- sending */

  function classify(status, data) {
    if ((status === 201 || status === 200) && data && data.event_id) {
      return { kind: 'ack', duplicate: !!data.duplicate, eventId: data.event_id };
    }
    if (status === 401) { return { kind: 'auth' }; }
    if (status === 408 || status === 429 || status >= 500 || status < 400) {
      return { kind: 'retry', error: 'HTTP ' + status };
    }
    var err = (data && data.error) || {};
    return { kind: 'refused', status: status, code: err.code || '', field: err.field || '',
             message: err.message || ('HTTP ' + status) };
  }

  /* A report's photo waits in IndexedDB (assets/capture.js), not in the list: sent with the report. */
  function photoOf(item) {
    if (!item.photo || !window.wartimeCapture) { return Promise.resolve(null); }
    return window.wartimeCapture.get(item.report_id).then(function (d) { return d || null; },
                                                          function () { return null; });
  }

  function send(item, token) {
    return photoOf(item).then(function (photo) { return sendWith(item, token, photo); });
  }

  function sendWith(item, token, photo) {
    var body = { report_id: item.report_id, grid: item.grid, counts: item.counts };
    if (item.note) { body.note = item.note; }
    if (item.reason) { body.reason = item.reason; }
    if (item.location) { body.location = item.location; }
    if (photo) { body.photo_image = photo; }
    if (item.path) { body = item.body || {}; }  /* another field action (on post: assets/field-order.js) */
    return timedFetch(item.path ? API + item.path : API + '/operations/' + encodeURIComponent(item.op) + '/reports', {
      method: 'POST', headers: authHeaders(token), body: JSON.stringify(body)
    }).then(function (res) {
      return classify(res.status, res.data);
    }, function (err) {
      return { kind: 'retry', error: (err && err.name === 'AbortError') ? 'timeout' : 'network' };
    });
  }

  function scheduleRetry() {
    S.backoff = Math.min(Math.max(BACKOFF_MIN_MS, S.backoff * 2), BACKOFF_MAX_MS);
    var wait = Math.round(S.backoff * (0.5 + Math.random() / 2));
    S.retryAt = Date.now() + wait;
    if (S.retryTimer) { clearTimeout(S.retryTimer); }
    S.retryTimer = setTimeout(function () { S.retryTimer = null; drain(); }, wait);
  }

  function drainLoop() {
    var s = session();
    if (!s) { return Promise.resolve(); }
    var item = queued().filter(function (r) { return r.user === s.username; })[0];
    if (!item) { S.backoff = 0; S.retryAt = 0; S.lastError = ''; return Promise.resolve(); }
    if (navigator.onLine === false) { S.lastError = 'offline'; return Promise.resolve(); }
    S.sending = item.report_id;
    F.renderNet();
    return send(item, s.token).then(function (res) {
      S.sending = null;
      if ((res.kind === 'ack' || res.kind === 'refused') && item.photo && window.wartimeCapture) {
        window.wartimeCapture.drop(item.report_id);  /* the server has it (or never will): the phone lets go */
      }
      if (res.kind === 'ack') {
        mark(item.report_id, { state: 'acked', duplicate: res.duplicate, event_id: res.eventId, acked_at: Date.now() });
        S.backoff = 0; S.retryAt = 0; S.lastError = '';
        F.renderQueueViews();
        F.refreshSoon();
        return drainLoop();
      }
      if (res.kind === 'refused') {
        mark(item.report_id, { state: 'refused', status: res.status, code: res.code, field: res.field,
                               error: res.message, refused_at: Date.now() });
        F.renderQueueViews();
        return drainLoop();
      }
      if (res.kind === 'auth') { F.expire(); return null; }
      mark(item.report_id, { attempts: (item.attempts || 0) + 1, last_error: res.error });
      S.lastError = res.error;
      scheduleRetry();
      F.renderQueueViews();
      return null;
    });
  }

  /* Send what is queued, one tab at a time; safe to call as often as one likes. */
  function drain() {
    if (S.draining || !queued().length || !session()) { return; }
    S.draining = true;
    var finish = function () { S.draining = false; S.sending = null; F.renderQueueViews(); };
    if (navigator.locks && navigator.locks.request) {
      navigator.locks.request('wartime-field-queue', { ifAvailable: true }, function (lock) {
        return lock ? drainLoop() : null;
      }).then(finish, finish);
    } else {
      drainLoop().then(finish, finish);
    }
  }

  function retryNow() {
    S.backoff = 0; S.retryAt = 0;
    if (S.retryTimer) { clearTimeout(S.retryTimer); S.retryTimer = null; }
    drain();
  }

  /* Queue another field action (POST `path` with `body`, sent once like a report: its report_id). */
  function enqueue(item) {
    var s = session();
    if (!s) { return null; }
    var full = Object.assign({ report_id: newReportId(), user: s.username, created_at: Date.now(),
                               state: 'queued', attempts: 0 }, item);
    updateReports(function (list) { list.push(full); });
    F.renderQueueViews();
    drain();
    return full;
  }

  Object.assign(F, {  // what the other parts use
    reports: reports, updateReports: updateReports, queued: queued, newReportId: newReportId, drain: drain,
    retryNow: retryNow, enqueue: enqueue
  });
})();
