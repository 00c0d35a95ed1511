/*
 * Command board (/): the secretaries, alerts and slowest-grids panels.
 * Part of assets/board.js (see there); loads before it, assets are served in name order. Everything
 * is shared through window.wartimeBoardKit (W): state in W.B, every part's functions as W.name.
 */
(function () {
  'use strict';

  var W = window.wartimeBoardKit = window.wartimeBoardKit || {};

  // -- secretaries, alerts, slowest -------------------------------------------------------------------------

  function renderSecretaries() {
    var s = W.B.snap.secretaries;
    var box = W.$('board-sec');
    W.clear(box);
    var wartime = W.B.snap.mode.mode === 'wartime' || W.B.snap.mode.wartime_grids > 0;
    var row = W.el('div', 'b-sec-row');
    function fig(value, label, cls, key) {
      var f = W.el('div', 'b-sec-fig ' + cls, null, key ? {'data-sec': key, 'data-value': String(value || 0)} : null);
      f.appendChild(W.el('span', 'b-num b-sec-num', W.fmt(value)));
      f.appendChild(W.el('span', 'b-sec-label', label));
      row.appendChild(f);
    }
    if (wartime) {
      // On post (已到岗) counts the secretaries' own confirmations, never installations (DESIGN §7.2).
      fig(s.on_post || 0, W.L('board.on_post'), 'b-sec-ok', 'on_post');
      fig(s.acknowledged || 0, W.L('board.acknowledged'), 'b-sec-acting', 'acknowledged');
      fig(s.installed + s.acting, W.L('board.installed'), 'b-sec-total', 'installed');
      fig(s.vacant, W.L('board.vacancies'), s.vacant ? 'b-sec-bad' : 'b-sec-ok');
    } else {
      fig(s.first_leaders, W.L('board.first_leaders'), 'b-sec-ok');
    }
    fig(s.small, W.L('board.small_grids'), 'b-sec-total');
    box.appendChild(row);
    if (wartime && s.small) {
      var bar = W.el('div', 'b-stack');
      var rest = s.installed + s.acting - (s.on_post || 0);
      [[s.on_post || 0, 'b-stack-ok'], [rest, 'b-stack-acting'], [s.vacant, 'b-stack-bad']].forEach(function (p) {
        var seg = W.el('div', p[1]);
        seg.style.width = (p[0] * 100 / s.small) + '%';
        bar.appendChild(seg);
      });
      box.appendChild(bar);
      if (window.wartimeMobCurve) { window.wartimeMobCurve(box, s, W.L); }  // assets/board-mobilisation.js
    }
  }

  function renderAlerts() {
    var a = W.B.snap.alerts;
    var box = W.$('board-alerts');
    W.clear(box);
    var waiting = a.waiting === undefined ? a.open : a.waiting;  // an acknowledged alert is no longer waiting
    W.$('board-alert-count').textContent = waiting ? String(waiting) : '';
    var chips = W.el('div', 'b-chips');
    Object.keys(a.by_kind).sort().forEach(function (k) {
      var c = W.el('span', 'b-chip b-chip-' + k);
      c.appendChild(W.el('span', 'b-chip-label', W.L(k)));
      c.appendChild(W.el('span', 'b-chip-n', W.fmt(a.by_kind[k])));
      chips.appendChild(c);
    });
    box.appendChild(chips);
    if (!a.latest.length) {
      box.appendChild(W.el('div', 'b-empty b-empty-ok', W.L('board.no_alerts')));
      return;
    }
    var list = W.el('ol', 'b-alert-list');
    a.latest.forEach(function (x) {
      var li = W.el('li', 'b-alert b-alert-' + x.kind + (x.acked_by ? ' b-alert-acked' : ''));
      li.appendChild(W.el('span', 'b-alert-kind', W.L(x.kind)));
      var where = W.el('span', 'b-alert-where');
      where.appendChild(W.el('span', 'b-alert-name', x.name));
      if (x.town) { where.appendChild(W.el('span', 'b-alert-town', x.town)); }
      li.appendChild(where);
      li.appendChild(W.el('span', 'b-alert-age', x.acked_by ? W.L('board.acked') : W.fmtAgo(W.serverNow() - x.raised_at),
        {'data-since': String(x.raised_at)}));
      list.appendChild(li);
    });
    box.appendChild(list);
    // Only whole rows on the wall (as the slowest panel): drop the ones the panel has no room for, and
    // say how many are not shown.
    var more = W.el('div', 'b-alert-more', W.L('board.alerts_more', {n: W.fmt(a.open || a.latest.length)}));
    box.appendChild(more);  // its room is kept while rows are trimmed; removed if nothing is hidden
    var hidden = Math.max(0, (a.open || 0) - a.latest.length);  // open alerts the snapshot does not list
    while (list.children.length > 1 && list.scrollHeight > list.clientHeight + 1) {
      list.removeChild(list.lastChild);
      hidden++;
    }
    more.setAttribute('data-hidden', String(hidden));
    list.setAttribute('data-rows', String(list.children.length));
    if (hidden) { more.textContent = W.L('board.alerts_more', {n: W.fmt(hidden)}); } else { box.removeChild(more); }
  }

  function renderSlowest() {
    var s = W.B.snap.slowest;
    var box = W.$('board-slow');
    W.clear(box);
    function column(title, rows, kind, note) {
      var col = W.el('div', 'b-slow-col');
      col.appendChild(W.el('div', 'b-slow-title', title));
      if (note) { col.appendChild(W.el('div', 'b-slow-never', note)); }
      if (!rows.length) { col.appendChild(W.el('div', 'b-empty', W.L('board.none'))); }
      var ol = W.el('ol', 'b-slow-list');
      rows.forEach(function (r) {
        var li = W.el('li', 'b-slow-row');
        li.addEventListener('click', function () { W.navigate({scope: r.code}); });
        var name = W.el('div', 'b-slow-name');
        name.appendChild(W.el('span', 'b-slow-grid', r.name));
        if (r.town) { name.appendChild(W.el('span', 'b-slow-town', r.town)); }
        li.appendChild(name);
        var meta = W.el('div', 'b-slow-meta');
        if (kind === 'lowest') {
          var bar = W.el('span', 'b-minibar');
          var fill = W.el('span', 'b-minibar-fill');
          fill.style.width = Math.min(100, r.pct) + '%';
          bar.appendChild(fill);
          meta.appendChild(bar);
          meta.appendChild(W.el('span', 'b-slow-pct', W.fmtPct(r.pct)));
        } else {
          meta.appendChild(W.el('span', 'b-slow-silence', r.last ? W.fmtAgo(W.serverNow() - r.last) : W.L('board.never'),
            r.last ? {'data-since': String(r.last)} : {}));
        }
        meta.appendChild(W.el('span', r.secretary ? 'b-slow-sec' : 'b-slow-sec b-slow-vacant',
          r.secretary || (r.vacant ? W.L('vacancy') : '')));
        li.appendChild(meta);
        ol.appendChild(li);
      });
      col.appendChild(ol);
      box.appendChild(col);
      // Only whole rows on the wall: drop the ones the panel has no room for.
      while (ol.lastChild && ol.scrollHeight > ol.clientHeight + 1) { ol.removeChild(ol.lastChild); }
    }
    column(W.L('board.lowest'), s.lowest, 'lowest', '');
    column(W.L('board.silent'), s.silent, 'silent', s.never ? W.L('board.never_count', {n: W.fmt(s.never)}) : '');
  }

  W.renderSecretaries = renderSecretaries;
  W.renderAlerts = renderAlerts;
  W.renderSlowest = renderSlowest;
})();
