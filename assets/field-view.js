/*
 * Field page (/field): what the page shows — the picked grid and operation, progress, the
 * report form, the queue and network state, recent reports. Built with DOM calls and textContent.
 * Part of assets/field.js (see there); loads before it, assets are served in name order. Everything
 * is shared through window.wartimeFieldKit (F): state in F.S, every part's functions as F.name.
 */
(function () {
  'use strict';

  var F = window.wartimeFieldKit = window.wartimeFieldKit || {};
  var S = F.S, load = F.load, save = F.save, session = F.session, tr = F.tr, colon = F.colon,
      paren = F.paren, comma = F.comma, clock = F.clock, fmtNumber = F.fmtNumber, h = F.h, fill = F.fill,
      byId = F.byId, reports = F.reports, queued = F.queued;

  var K_PICK = 'wartime.field.pick.v1';
  var SHOW_RECENT = 20;
  var MAX_CHIPS = 12;

  /* ---------------------------------------------------------------- selection */

  function grids() { return (S.mine && S.mine.grids) || []; }

  function opsOf(grid) {
    return ((S.mine && S.mine.operations) || []).filter(function (op) {
      return op.grids && Object.prototype.hasOwnProperty.call(op.grids, grid);
    });
  }

  function findOp(id) {
    return ((S.mine && S.mine.operations) || []).filter(function (op) { return op.id === id; })[0] || null;
  }

  function findGrid(code) {
    return grids().filter(function (g) { return g.code === code; })[0] || null;
  }

  function normalisePick() {
    var saved = load(K_PICK, {}) || {};
    var gs = grids();
    if (!findGrid(S.grid)) {
      S.grid = findGrid(saved.grid) ? saved.grid : null;
      if (!S.grid) {
        var withOp = gs.filter(function (g) { return opsOf(g.code).length; })[0];
        S.grid = (withOp || gs[0] || {}).code || null;
      }
    }
    var ops = S.grid ? opsOf(S.grid) : [];
    if (!ops.some(function (o) { return o.id === S.op; })) {
      S.op = ops.some(function (o) { return o.id === saved.op; }) ? saved.op : ((ops[0] || {}).id || null);
    }
    try { save(K_PICK, { grid: S.grid, op: S.op }); } catch (e) { /* ignore */ }
  }

  /* ---------------------------------------------------------------- rendering */

  function renderAll() {
    renderWho();
    renderNet();
    renderQueue();
    renderMain();
  }

  function renderQueueViews() {
    followMessage();
    renderQueue();
    renderNet();
    renderProgress();
    renderRecent();
  }

  function renderWho() {
    var el = byId('field-who');
    if (!el) { return; }
    var s = session();
    if (!s) { fill(el, null); return; }
    var root = S.mine && S.mine.root;
    fill(el, [
      h('span', { className: 'field-user', text: s.username }),
      root ? h('span', { className: 'field-scope', text: root.name }) : null
    ]);
  }

  function renderQueue() {
    var el = byId('field-queue') || document.querySelector('[data-queue]');
    if (!el) { return; }
    var n = queued().length;
    el.setAttribute('data-value', String(n));
    el.className = 'field-queue ' + (n ? 'field-queue-waiting' : 'field-queue-clear');
    fill(el, [
      h('span', { className: 'field-queue-dot', 'aria-hidden': 'true' }),
      n ? h('span', { className: 'field-queue-n', text: String(n) }) : null,
      h('span', { className: 'field-queue-label', text: n ? tr('field.queue') : tr('field.queue.none') })
    ]);
  }

  function renderNet() {
    var el = byId('field-net');
    if (!el) { return; }
    var offline = navigator.onLine === false;
    var n = queued().length;
    var parts = [];
    var cls = 'field-net';
    if (offline) {
      cls += ' field-net-offline';
      parts.push(h('span', { text: tr('field.offline') }));
    } else if (S.sending) {
      cls += ' field-net-busy';
      parts.push(h('span', { text: tr('field.sending') }));
    } else if (n && S.retryAt > Date.now()) {
      cls += ' field-net-retry';
      parts.push(h('span', { text: tr('field.retry_in', { s: Math.max(1, Math.ceil((S.retryAt - Date.now()) / 1000)) }) }));
      parts.push(h('button', { type: 'button', className: 'field-linkbtn', dataset: { action: 'retry-now' },
                               text: tr('field.retry_now') }));
    } else if (session() && S.mine && !S.mineLive && S.mineAt) {
      cls += ' field-net-cached';
      parts.push(h('span', { text: tr('field.cached', { t: clock(S.mineAt) }) }));
    } else {
      cls += ' field-net-ok';
    }
    el.className = cls;
    fill(el, parts);
  }

  function ensureSkeleton() {
    var app = byId('field-app');
    if (!app) { return null; }
    if (!byId('field-sel') || !app.contains(byId('field-sel'))) {
      fill(app, [
        h('section', { id: 'field-sel', className: 'field-sel' }),
        h('section', { id: 'field-progress', className: 'field-card field-progress' }),
        h('form', { id: 'field-form', className: 'field-card field-form', novalidate: true, autocomplete: 'off' }),
        h('section', { id: 'field-recent', className: 'field-recent-wrap' })
      ]);
      S.formKey = '';
    }
    return app;
  }

  function renderMain() {
    if (!ensureSkeleton()) { return; }
    renderSel();
    renderProgress();
    renderForm(false);
    renderRecent();
  }

  function renderSel() {
    var el = byId('field-sel');
    if (!el) { return; }
    if (!S.mine) {
      fill(el, h('p', { className: 'field-muted', text: tr('field.loading') }));
      return;
    }
    var gs = grids();
    var parts = [];
    if (!gs.length) {
      parts.push(h('p', { className: 'field-empty', text: tr('field.no_grids') }));
      fill(el, parts);
      return;
    }
    if (S.mine.truncated) {
      parts.push(h('p', { className: 'field-muted', text: tr('field.truncated', { n: gs.length }) }));
    }
    parts.push(h('h2', { className: 'field-h2', text: tr('field.my_grids') }));
    if (gs.length > MAX_CHIPS) {
      var select = h('select', { className: 'field-select', name: 'grid', dataset: { action: 'pick-grid-select' } });
      gs.forEach(function (g) {
        var opt = h('option', { value: g.code, text: g.name + ' · ' + g.code });
        if (g.code === S.grid) { opt.selected = true; }
        select.appendChild(opt);
      });
      parts.push(select);
    } else {
      parts.push(h('div', { className: 'field-chips', role: 'tablist' }, gs.map(function (g) {
        var n = opsOf(g.code).length;
        return h('button', {
          type: 'button', role: 'tab', 'aria-selected': g.code === S.grid ? 'true' : 'false',
          className: 'field-chip' + (g.code === S.grid ? ' field-chip-on' : '') +
            (g.mode === 'wartime' ? ' field-chip-war' : ''),
          dataset: { action: 'pick-grid', grid: g.code }
        }, h('span', { className: 'field-chip-name', text: g.name }),
           h('span', { className: 'field-chip-meta', text: n ? tr('field.ops_n', { n: n }) : g.code }));
      })));
    }
    var g = findGrid(S.grid);
    if (g) {
      var meta = [tr(g.grid_level)];
      if (g.mode === 'wartime') {
        meta.push(tr('wartime') + ' · ' + tr(g.incident || 'other') + ' · ' + tr('level.' + (g.level || 'IV')));
      } else {
        meta.push(tr('peacetime'));
      }
      var sec = g.secretary;
      parts.push(h('div', { className: 'field-grid-meta' },
        h('span', { className: 'field-mode field-mode-' + g.mode, dataset: { mode: g.mode }, text: meta.join(' · ') }),
        sec ? h('span', { className: 'field-sec', text: tr('field.secretary') + colon() + sec.name +
          (sec.acting ? paren(tr('field.acting')) : '') }) : null));
    }
    var ops = S.grid ? opsOf(S.grid) : [];
    if (ops.length > 1) {
      parts.push(h('h2', { className: 'field-h2', text: tr('field.operations') }));
      parts.push(h('div', { className: 'field-tabs', role: 'tablist' }, ops.map(function (op) {
        return h('button', {
          type: 'button', role: 'tab', 'aria-selected': op.id === S.op ? 'true' : 'false',
          className: 'field-tab' + (op.id === S.op ? ' field-tab-on' : ''),
          dataset: { action: 'pick-op', op: op.id }
        }, h('span', { text: op.name }), h('small', { text: tr(op.kind) }));
      })));
    }
    fill(el, parts);
  }

  function pendingFor(op, grid) {
    var sum = {};
    queued().forEach(function (r) {
      if (r.op === op && r.grid === grid) {
        Object.keys(r.counts || {}).forEach(function (c) { sum[c] = (sum[c] || 0) + r.counts[c]; });
      }
    });
    return sum;
  }

  function deadlineText(op) {
    if (!op.deadline) { return null; }
    var now = Date.now() + S.skew;
    var left = op.deadline - now;
    var due = tr('field.deadline', { t: clock(op.deadline) });
    if (left <= 0) { return { text: due + ' · ' + tr('field.overdue'), late: true }; }
    var mins = Math.floor(left / 60000);
    var rest = mins >= 60 ? tr('field.left_h', { h: Math.floor(mins / 60), m: mins % 60 }) : tr('field.left_m', { m: mins });
    return { text: due + ' · ' + rest, late: false };
  }

  /* Progress against the target; what waits in the queue shows as a lighter stretch after it. */
  function bar(count, target, pending) {
    var pct = target > 0 ? Math.min(100, Math.round(100 * count / target)) : 0;
    var more = target > 0 && pending > 0 ? Math.min(100 - pct, Math.round(100 * pending / target)) : 0;
    return h('div', { className: 'field-bar', role: 'progressbar', 'aria-valuemin': '0', 'aria-valuemax': '100',
                      'aria-valuenow': String(pct) },
      h('div', { className: 'field-bar-fill' + (target > 0 && count > target ? ' field-bar-over' : ''),
                 style: 'width:' + pct + '%' }),
      more > 0 ? h('div', { className: 'field-bar-pending', style: 'width:' + more + '%' }) : null);
  }

  function renderProgress() {
    var el = byId('field-progress');
    if (!el) { return; }
    var op = findOp(S.op);
    var g = findGrid(S.grid);
    if (!S.mine || !g) { el.hidden = true; fill(el, null); return; }
    el.hidden = false;
    if (!op) {
      fill(el, h('p', { className: 'field-empty', text: g.mode === 'wartime' ? tr('field.no_operations') : tr('field.not_wartime') }));
      return;
    }
    var cell = op.grids[S.grid] || { targets: {}, counts: {} };
    var pend = pendingFor(op.id, S.grid);
    var dl = deadlineText(op);
    var rows = op.counters.map(function (c) {
      var count = (cell.counts || {})[c] || 0;
      var target = (cell.targets || {})[c];
      var p = pend[c] || 0;
      return h('div', { className: 'field-prog-row', dataset: { counter: c, count: count } },
        h('div', { className: 'field-prog-head' },
          h('span', { className: 'field-prog-label', text: tr(c) }),
          h('span', { className: 'field-prog-num' },
            h('strong', { text: fmtNumber(count) }),
            target !== undefined ? h('span', { className: 'field-prog-target', text: ' / ' + fmtNumber(target) }) : null,
            p ? h('span', { className: 'field-prog-pending', text: ' ' + tr('field.pending', { n: (p > 0 ? '+' : '') + p }) }) : null)),
        target !== undefined && count > target ? h('div', { className: 'field-over', text: tr('over_target') }) : null,
        target !== undefined ? bar(count, target, p) : null);
    });
    var summary = op.summary && op.summary.grid !== S.grid && S.mine.root ? op.summary : null;
    fill(el, [
      h('div', { className: 'field-op-head' },
        h('div', { className: 'field-op-kind', text: tr(op.kind) }),
        h('h2', { className: 'field-op-name', text: op.name }),
        dl ? h('div', { className: 'field-deadline' + (dl.late ? ' field-late' : ''), text: dl.text }) : null),
      h('div', { className: 'field-prog-grid', text: g.name }),
      rows,
      summary ? h('div', { className: 'field-prog-summary' },
        h('strong', { text: tr('field.grid_total', {
          name: summary.grid === S.mine.root.code ? S.mine.root.name : summary.grid }) }),
        h('span', { text: op.counters.map(function (c) {
          var n = (summary.counts || {})[c] || 0;
          var t = (summary.targets || {})[c];
          return tr(c) + ' ' + fmtNumber(n) + (t !== undefined ? ' / ' + fmtNumber(t) : '');
        }).join(' · ') })) : null
    ]);
  }

  function renderForm(force) {
    var el = byId('field-form');
    if (!el) { return; }
    var op = findOp(S.op);
    var canReport = S.mine && S.mine.can_report;
    var key = [S.lang, S.grid, S.op, canReport ? 1 : 0, S.form.correction ? 1 : 0].join('|');
    if (!force && key === S.formKey) { renderMessage(); return; }
    S.formKey = key;
    if (!S.mine || !op || !findGrid(S.grid)) { el.hidden = true; fill(el, null); return; }
    el.hidden = false;
    if (!canReport) { fill(el, h('p', { className: 'field-muted', text: tr('field.readonly') })); return; }
    var corr = S.form.correction;
    el.className = 'field-card field-form' + (corr ? ' field-form-correction' : '');
    var counters = op.counters.map(function (c) {
      var id = 'field-c-' + c;
      var v = S.form.counts[c];
      return h('div', { className: 'field-counter', dataset: { counter: c } },
        h('label', { className: 'field-counter-label', 'for': id },
          h('span', { text: tr(c) }),
          h('small', { text: corr ? tr('field.remove') : tr('field.increment') })),
        h('div', { className: 'field-stepper' },
          h('button', { type: 'button', className: 'field-step field-step-minus', 'aria-label': '−1',
                        dataset: { action: 'step', counter: c, step: '-1' }, text: '−' }),
          h('input', { id: id, name: c, type: 'number', inputmode: 'numeric', pattern: '[0-9]*', min: '0', step: '1',
                       className: 'field-num', placeholder: '0', value: v === undefined ? '' : String(v),
                       'aria-label': tr(c) }),
          h('button', { type: 'button', className: 'field-step field-step-plus', 'aria-label': '+1',
                        dataset: { action: 'step', counter: c, step: '1' }, text: '+' }),
          h('button', { type: 'button', className: 'field-step field-step-ten', 'aria-label': '+10',
                        dataset: { action: 'step', counter: c, step: '10' }, text: '+10' })));
    });
    fill(el, [
      h('h2', { className: 'field-h2', text: corr ? tr('correction') : tr('field.report') }),
      counters,
      h('label', { className: 'field-label', 'for': 'field-note', text: tr('field.note') }),
      h('textarea', { id: 'field-note', name: 'note', rows: '2', maxlength: '500', className: 'field-text',
                      placeholder: tr('field.note_ph'), value: S.form.note }),
      h('label', { className: 'field-check' },
        h('input', { type: 'checkbox', name: 'correction', checked: corr, dataset: { action: 'toggle-correction' } }),
        h('span', { text: tr('field.correction') })),
      h('label', { className: 'field-label field-photo-label', 'for': 'field-photo', text: tr('field.photo') }),
      h('div', { className: 'field-photo' },
        h('input', { id: 'field-photo', name: 'photo', type: 'file', accept: 'image/*', capture: 'environment',
                     className: 'field-photo-input' }),
        h('label', { 'for': 'field-photo', className: 'field-photo-take', role: 'button',
                     text: S.photo && S.photo.thumb ? tr('field.photo_again') : tr('field.photo_take') }),
        h('img', { id: 'field-photo-thumb', className: 'field-thumb', alt: tr('field.photo'),
                   hidden: !S.photo, src: S.photo ? S.photo.thumb : undefined }),
        h('small', { id: 'field-photo-info', className: 'field-where', text: F.photoText() }),
        h('button', { type: 'button', className: 'field-photo-drop', hidden: !S.photo,
                      dataset: { action: 'drop-photo' }, text: tr('field.photo_drop') })),
      h('label', { className: 'field-check field-locate' },
        h('input', { type: 'checkbox', name: 'locate', checked: !!S.locate }),
        h('span', { text: tr('field.locate') }),
        h('small', { id: 'field-where', className: 'field-where', text: F.whereText() })),
      corr ? h('label', { className: 'field-label', 'for': 'field-reason', text: tr('field.reason') }) : null,
      corr ? h('input', { id: 'field-reason', name: 'reason', type: 'text', maxlength: '500', className: 'field-text',
                          placeholder: tr('field.reason_ph'), value: S.form.reason }) : null,
      h('div', { id: 'field-msg', className: 'field-msg', role: 'status', 'aria-live': 'polite' }),
      h('button', { type: 'submit', className: 'field-submit' + (corr ? ' field-submit-correction' : ''),
                    dataset: { action: 'submit-report' }, text: corr ? tr('field.submit_correction') : tr('field.submit') })
    ]);
    renderMessage();
  }

  /* The message under the form follows the last report sent from it: saved → confirmed or refused. */
  function followMessage() {
    var m = S.message;
    if (!m || !m.reportId) { return; }
    var r = reports().filter(function (x) { return x.report_id === m.reportId; })[0];
    if (!r || r.state === 'queued') { return; }
    S.message = r.state === 'acked' ? { kind: 'ok', text: tr('field.sent') }
      : { kind: 'error', text: tr('field.state.refused') + colon() + errorText(r) };
    renderMessage();
  }

  function renderMessage() {
    var el = byId('field-msg');
    if (!el) { return; }
    var m = S.message;
    el.className = 'field-msg' + (m ? ' field-msg-' + m.kind : '');
    el.textContent = m ? m.text : '';
  }

  function errorText(r) {
    var code = r.code || '';
    var field = r.field || '';
    var key = null;
    if (r.status === 403) { key = 'field.err.403'; }
    else if (r.status === 404) { key = 'field.err.404'; }
    else if (code === 'operation_closed') { key = 'field.err.closed'; }
    else if (code === 'mode_conflict') { key = 'field.err.mode'; }
    else if (r.status === 413 || code === 'too_large') { key = 'field.err.too_large'; }
    else if (field === 'reason') { key = 'field.err.reason'; }
    else if (/below zero/.test(r.error || '')) { key = 'field.err.below_zero'; }
    else if (r.status === 422) { key = 'field.err.invalid'; }
    return key ? tr(key) : (r.error || '');
  }

  function countsText(counts) {
    return Object.keys(counts || {}).map(function (c) {
      var n = counts[c];
      return (n > 0 ? '+' : '−') + fmtNumber(Math.abs(n)) + ' ' + tr(c);
    }).join(comma());
  }

  function renderRecent() {
    var el = byId('field-recent');
    if (!el) { return; }
    var s = session();
    var all = reports();
    var mineList = all.filter(function (r) { return s && r.user === s.username; }).reverse().slice(0, SHOW_RECENT);
    var others = all.filter(function (r) { return r.state === 'queued' && (!s || r.user !== s.username); }).length;
    var items = mineList.map(function (r) {
      var state = r.state === 'acked' && r.duplicate ? 'duplicate' : r.state;
      var badge = tr('field.state.' + state);
      if (r.state === 'queued' && r.attempts) { badge += ' · ' + r.attempts; }
      return h('li', { className: 'field-report field-report-' + r.state,
                       dataset: { 'report-id': r.report_id, state: r.state } },
        h('div', { className: 'field-report-top' },
          h('span', { className: 'field-badge field-badge-' + r.state, text: badge }),
          h('time', { className: 'field-report-time', text: clock(r.created_at) })),
        h('div', { className: 'field-report-counts', text: (r.label ? tr(r.label) : countsText(r.counts)) +
          (r.subject ? ' · ' + r.subject : '') }),
        h('div', { className: 'field-report-where', text: (r.grid_name || r.grid) + (r.op ? ' · ' + (r.op_name || r.op) : '') }),
        r.note ? h('div', { className: 'field-report-note', text: r.note }) : null,
        r.thumb ? h('img', { className: 'field-report-thumb', src: r.thumb, alt: tr('field.photo') }) : null,
        r.reason ? h('div', { className: 'field-report-reason', text: tr('correction') + colon() + r.reason }) : null,
        r.state === 'refused' ? h('div', { className: 'field-report-error', text: errorText(r) }) : null,
        r.state === 'refused' && r.error && errorText(r) !== r.error ?
          h('div', { className: 'field-report-detail', text: r.error }) : null);
    });
    fill(el, [
      h('h2', { className: 'field-h2', text: tr('field.recent') }),
      others ? h('p', { className: 'field-muted', text: tr('field.others_queued', { n: others }) }) : null,
      items.length ? h('ol', { className: 'field-recent' }, items)
        : h('p', { className: 'field-muted', text: tr('field.recent.none') })
    ]);
  }

  Object.assign(F, {  // what the other parts use
    findOp: findOp, findGrid: findGrid, normalisePick: normalisePick, renderAll: renderAll,
    renderQueueViews: renderQueueViews, renderNet: renderNet, renderMain: renderMain, renderForm: renderForm,
    renderMessage: renderMessage
  });
})();
