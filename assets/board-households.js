/*
 * Big screen (/): the households panel (不漏一户 · 入户覆盖), filled from the snapshot's `households`
 * (dashboard/components/board_households.py); assets/board.js calls it after every snapshot
 * with its strings and element builder, so the
 * panel is at the snapshot's log position like the other snapshot panels (DESIGN §7.6).
 *
 * What it shows, for the operation on the map (or the first open one with a roster):
 *   - households unreached in the scope, big: [data-kpi=unreached_households][data-value], and the reach
 *     (share of households with a status) of the scope;
 *   - reach per child of the scope (towns at the county): [data-hh-child=CODE][data-value=percent];
 *   - vulnerable households unreached first: [data-hh-vulnerable][data-value] and up to a dozen of them
 *     (names masked as the server sends them).
 * The panel hides itself when no operation on view has a household roster. Text via textContent only.
 */
(function () {
  'use strict';

  function fmt(n, lang) {
    try { return Number(n || 0).toLocaleString(lang === 'en' ? 'en-US' : 'zh-CN'); } catch (e) { return String(n); }
  }

  function pctText(p) { return p === null || p === undefined ? '—' : (Math.floor(p * 10) / 10).toFixed(1); }

  /* snap: the board's snapshot; L: its strings; el: its element builder (board.js: text via textContent). */
  window.wartimeBoardHouseholds = function (snap, L, el) {
    var panel = document.getElementById('board-panel-hh');
    var box = document.getElementById('board-hh');
    if (!panel || !box) { return; }
    var hh = snap && snap.households;
    while (box.firstChild) { box.removeChild(box.firstChild); }
    if (!hh || !hh.total) {
      panel.setAttribute('hidden', '');
      box.appendChild(el('span', 'b-hh-hidden', '0', {'data-kpi': 'unreached_households', 'data-value': '0', hidden: ''}));
      return;
    }
    panel.removeAttribute('hidden');
    var lang = snap.lang;
    var sub = document.getElementById('board-hh-sub');
    if (sub) { sub.textContent = hh.op_name || ''; }
    var head = el('div', 'b-hh-head');
    var big = el('div', 'b-hh-big');
    big.appendChild(el('span', 'b-num b-hh-num', fmt(hh.unreached, lang),
      {'data-kpi': 'unreached_households', 'data-value': String(hh.unreached)}));
    big.appendChild(el('span', 'b-hh-label', L('board.hh.unreached')));
    head.appendChild(big);
    head.appendChild(el('div', 'b-hh-reach', L('board.hh.reach_of', {pct: pctText(hh.pct), done: fmt(hh.done, lang),
      total: fmt(hh.total, lang)}), {'data-hh-reach': String(hh.pct === null ? '' : hh.pct)}));
    box.appendChild(head);
    var kids = hh.children || [];
    if (kids.length) {
      box.appendChild(el('div', 'b-hh-sect', L('board.hh.by_town', {level: L(snap.children_level || 'town')})));
      var ol = el('ol', 'b-hh-bars' + (kids.length > 5 ? ' b-hh-bars-2' : ''));
      kids.forEach(function (c) {
        var li = el('li', 'b-hh-bar' + (c.unreached ? '' : ' b-hh-bar-done'),
          null, {'data-hh-child': c.code, 'data-value': String(c.pct === null ? '' : c.pct), 'data-unreached': String(c.unreached)});
        var w = Math.max(0, Math.min(100, c.pct || 0));
        li.style.background = 'linear-gradient(90deg, rgba(60, 170, 140, 0.42) ' + w + '%, rgba(90, 150, 230, 0.12) ' + w + '%)';
        li.appendChild(el('span', 'b-hh-name', c.name));
        li.appendChild(el('span', 'b-hh-pct', pctText(c.pct) + '%'));
        li.appendChild(el('span', 'b-hh-left', c.unreached ? fmt(c.unreached, lang) : '✓'));
        ol.appendChild(li);
      });
      box.appendChild(ol);
    }
    var v = hh.vulnerable || {unreached: 0, items: []};
    box.appendChild(el('div', 'b-hh-sect b-hh-sect-vul', L('board.hh.vulnerable_first') + ' · ' +
      L('board.hh.vulnerable_n', {n: fmt(v.unreached, lang)}), {'data-hh-vulnerable': String(v.unreached)}));
    if (!v.unreached) {
      box.appendChild(el('div', 'b-empty b-empty-ok', L('board.hh.none_left')));
      return;
    }
    var list = el('ol', 'b-hh-vul');
    (v.items || []).forEach(function (h) {
      var li = el('li', 'b-hh-vitem', null, {'data-household': h.code});
      li.appendChild(el('span', 'b-hh-vtags', (h.vulnerable || []).map(function (k) { return L('hh.vuln.' + k); }).join(' · ')));
      li.appendChild(el('span', 'b-hh-vwho', (h.head || h.code) + (h.size ? ' · ' + h.size : '')));
      li.appendChild(el('span', 'b-hh-vwhere', h.where || h.micro_grid || ''));
      list.appendChild(li);
    });
    box.appendChild(list);
    var moreNode = el('div', 'b-empty b-hh-more');
    box.appendChild(moreNode);
    // Show the rows that fit whole (a wall never shows half a line), and say how many more there are.
    var shown = (v.items || []).length;
    var limit = box.getBoundingClientRect().bottom;
    var rows = list.children;
    var more = function () { return v.unreached - shown; };
    moreNode.textContent = more() > 0 ? L('board.hh.more', {n: fmt(more(), lang)}) : '';
    while (rows.length > 1 && (rows[rows.length - 1].getBoundingClientRect().bottom > list.getBoundingClientRect().bottom + 0.5 ||
           moreNode.getBoundingClientRect().bottom > limit + 0.5)) {
      list.removeChild(rows[rows.length - 1]);
      shown -= 1;
      moreNode.textContent = more() > 0 ? L('board.hh.more', {n: fmt(more(), lang)}) : '';
    }
  };
})();
