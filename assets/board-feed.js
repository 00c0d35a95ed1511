/*
 * Command board (/): the live feed of reports and commands.
 * Part of assets/board.js (see there); loads before it, assets are served in name order. Everything
 * is shared through window.wartimeBoardKit (W): state in W.B, every part's functions as W.name.
 */
(function () {
  'use strict';

  var W = window.wartimeBoardKit = window.wartimeBoardKit || {};

  // -- feed ------------------------------------------------------------------------------------------

  function cellName(i) {
    var p = W.B.props[i];
    return p ? p.n : '#' + i;
  }

  function cellWhere(i) {
    var p = W.B.props[i];
    if (!p || p.k === undefined || p.k < 0 || !W.B.snap) { return ''; }
    var c = W.B.snap.children[p.k];
    return c && c.code !== p.c ? c.name : '';
  }

  function renderFeed() {
    if (!W.B.snap || !W.B.dirty.feed) { return; }
    W.B.dirty.feed = false;
    W.B.panelAt.feed = W.copy(W.B.at);
    var box = W.$('board-feed');
    var items = [];
    W.B.feed.forEach(function (f) { items.push({ms: f[0], report: f}); });
    W.B.snap.commands.forEach(function (c) { items.push({ms: c.ms, command: c}); });
    items.sort(function (a, b) { return b.ms - a.ms; });
    W.clear(box);
    if (!items.length) { box.appendChild(W.el('li', 'b-empty', W.L('board.no_feed'))); return; }
    var seen = W.B.feedSeen || {};
    W.B.feedSeen = {};
    items.slice(0, W.FEED_SHOW).forEach(function (it) {
      var key = it.command ? 'c' + it.ms + it.command.text : 'r' + it.report.join('|');
      var fresh = !seen[key] && W.B.feedPrimed;
      W.B.feedSeen[key] = true;
      var li = W.el('li', (it.command ? 'b-feed-item b-feed-cmd' : 'b-feed-item') + (fresh ? ' b-feed-new' : ''));
      li.appendChild(W.el('span', 'b-feed-time', W.fmtTime(it.ms, false)));
      if (it.command) {
        li.appendChild(W.el('span', 'b-feed-tag', '⚑'));
        li.appendChild(W.el('span', 'b-feed-text', it.command.text));
      } else {
        var f = it.report;
        var where = W.el('span', 'b-feed-text');
        var town = cellWhere(f[1]);
        if (town) { where.appendChild(W.el('span', 'b-feed-town', town)); }
        where.appendChild(W.el('span', 'b-feed-grid', cellName(f[1])));
        li.appendChild(where);
        var counts = W.el('span', 'b-feed-counts');
        Object.keys(f[3]).slice(0, 2).forEach(function (c) {
          var n = f[3][c];
          counts.appendChild(W.el('span', n < 0 ? 'b-feed-n b-feed-neg' : 'b-feed-n', (n > 0 ? '+' : '') + W.fmt(n)));
          counts.appendChild(W.el('span', 'b-feed-c', W.L(c)));
        });
        li.appendChild(counts);
      }
      box.appendChild(li);
    });
    W.B.feedPrimed = true;
  }

  W.cellName = cellName;
  W.cellWhere = cellWhere;
  W.renderFeed = renderFeed;
})();
