/*
 * Live push client: one WebSocket to the hub (streams/live.py), kept open for ever.
 *
 *   var link = wartimeLive.connect({
 *     url: function () { return 'ws://host:8051/live?token=…&scope=…'; },
 *     onMessage: function (msg) { … },        // parsed JSON, in order
 *     onStatus: function (status, info) { … } // 'connecting' | 'live' | 'lost' | 'refused'
 *   });
 *   link.close();
 *
 * Reconnects by itself after a network drop or a server restart, with
 * exponential backoff (0.5 s doubling to 8 s, with jitter), and reports
 * 'lost' at once so that the page can say so: a wall must never show old
 * numbers as if they were live. The hub sends something at least every few
 * seconds (a ping when nothing else); a link silent for WATCHDOG_MS is treated
 * as dead even if the socket never closed (a switch that drops packets, a
 * sleeping laptop). A close with code 4401/4403 (token refused, scope not
 * allowed) is reported as 'refused' and retried only slowly, since retrying
 * fast cannot help. The status turns 'live' on the first message after
 * connecting (the hub's full state), so catch-up is part of reconnecting.
 */
(function () {
  'use strict';

  var BACKOFF_MIN_MS = 500;
  var BACKOFF_MAX_MS = 8000;
  var WATCHDOG_MS = 15000;
  var REFUSED_RETRY_MS = 60000;

  function connect(opts) {
    var ws = null;
    var closed = false;
    var attempt = 0;
    var retryTimer = null;
    var watchdog = null;
    var lastMessage = 0;
    var status = null;

    function setStatus(s, info) {
      if (s === status && s !== 'lost') { return; }
      status = s;
      if (opts.onStatus) {
        try { opts.onStatus(s, info || {}); } catch (e) { console.error(e); }
      }
    }

    function schedule(delay) {
      if (closed) { return; }
      clearTimeout(retryTimer);
      setStatus(status === 'refused' ? 'refused' : 'lost', {retryAt: Date.now() + delay});
      retryTimer = setTimeout(open, delay);
    }

    function backoff() {
      var base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * Math.pow(2, attempt));
      attempt += 1;
      return Math.round(base * (0.75 + Math.random() * 0.5));
    }

    function open() {
      if (closed) { return; }
      var url;
      try { url = opts.url(); } catch (e) { schedule(backoff()); return; }
      if (!url) { schedule(backoff()); return; }
      if (status !== 'lost' && status !== 'refused') { setStatus('connecting'); }
      try {
        ws = new WebSocket(url);
      } catch (e) {
        schedule(backoff());
        return;
      }
      var me = ws;
      var got = false;
      lastMessage = Date.now();
      me.onmessage = function (ev) {
        if (me !== ws) { return; }
        lastMessage = Date.now();
        var msg;
        try { msg = JSON.parse(ev.data); } catch (e) { return; }
        if (!got && msg.t === 'state') {
          got = true;
          attempt = 0;
          setStatus('live');
        }
        if (opts.onMessage) {
          try { opts.onMessage(msg); } catch (e) { console.error(e); }
        }
      };
      me.onclose = function (ev) {
        if (me !== ws || closed) { return; }
        ws = null;
        if (ev.code === 4401 || ev.code === 4403) {
          status = 'refused';
          setStatus('refused', {code: ev.code, retryAt: Date.now() + REFUSED_RETRY_MS});
          clearTimeout(retryTimer);
          retryTimer = setTimeout(open, REFUSED_RETRY_MS);
          return;
        }
        schedule(backoff());
      };
      me.onerror = function () { /* onclose follows */ };
    }

    watchdog = setInterval(function () {
      if (ws && ws.readyState === 1 && Date.now() - lastMessage > WATCHDOG_MS) {
        var dead = ws;
        ws = null;
        try { dead.close(); } catch (e) { /* already gone */ }
        schedule(backoff());
      }
    }, 1000);

    open();

    return {
      close: function () {
        closed = true;
        clearTimeout(retryTimer);
        clearInterval(watchdog);
        if (ws) {
          var w = ws;
          ws = null;
          try { w.close(1000, 'bye'); } catch (e) { /* already gone */ }
        }
      },
      status: function () { return status; },
      reconnectNow: function () {
        if (closed || (ws && ws.readyState <= 1)) { return; }
        clearTimeout(retryTimer);
        open();
      }
    };
  }

  window.wartimeLive = {connect: connect};
})();
