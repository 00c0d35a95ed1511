/*
 * Command board (/): the header: county, mode, incident, breadcrumbs and the selectors.
 * Part of assets/board.js (see there); loads before it, assets are served in name order. Everything
 * is shared through window.wartimeBoardKit (W): state in W.B, every part's functions as W.name.
 */
(function () {
  'use strict';

  var W = window.wartimeBoardKit = window.wartimeBoardKit || {};

  // -- header --------------------------------------------------------------------------------------

  function renderHeader() {
    var s = W.B.snap;
    W.$('board-county').textContent = s.county.name;
    var badge = W.$('board-mode');
    badge.setAttribute('data-mode', s.mode.mode);
    badge.textContent = W.L(s.mode.mode);
    var inc = W.$('board-incident');
    if (s.mode.mode === 'wartime') {
      inc.textContent = W.L(s.mode.incident || 'other') + ' · ' + W.L('level.' + (s.mode.level || 'IV')) + W.L('board.response');
    } else if (s.mode.wartime_grids) {
      inc.textContent = W.L('board.partial', {n: W.fmt(s.mode.wartime_grids)});
    } else {
      inc.textContent = '';
    }
    var crumbs = W.$('board-crumbs');
    W.clear(crumbs);
    s.scope.path.forEach(function (p, i) {
      if (i) { crumbs.appendChild(W.el('span', 'b-crumb-sep', '›')); }
      var last = i === s.scope.path.length - 1;
      var a = W.el(last ? 'span' : 'a', last ? 'b-crumb b-crumb-here' : 'b-crumb', p.name);
      if (!last) {
        a.href = '#';
        a.addEventListener('click', function (ev) { ev.preventDefault(); W.navigate({scope: p.code}); });
      }
      crumbs.appendChild(a);
    });
  }

  function renderSelectors() {
    var s = W.B.snap;
    var opts = [];
    var seen = {};
    function add(code, name, depth) {
      if (seen[code]) { return; }
      seen[code] = true;
      opts.push({label: (depth ? '\u3000'.repeat(depth) : '') + name + ' · ' + code, value: code});
    }
    s.scope.path.forEach(function (p, i) { add(p.code, p.name, i); });
    s.children.forEach(function (c) { add(c.code, c.name, s.scope.path.length); });
    W.setProps('board-scope', {options: opts, value: s.scope.code});
    var ops = [{label: W.L('board.all_ops'), value: ''}];
    s.choices.forEach(function (c) {
      ops.push({label: c.name + (c.state === 'closed' ? ' (' + W.L('board.closed') + ')' : ''), value: c.id});
    });
    W.setProps('board-op', {options: ops, value: W.B.cfg.op || ''});
  }

  W.renderHeader = renderHeader;
  W.renderSelectors = renderSelectors;
})();
