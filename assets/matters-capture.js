/*
 * The matters form's camera and position (/field/matters): the controls of assets/capture.js,
 * built into #matters-capture, handing what they get to the page's Dash stores:
 *   matters-photo-data  the resized picture (a data: URL, JPEG, longest side ≤ 1280 px), or null;
 *   matters-where       { lat, lon, accuracy } while "attach my location" is ticked, or null.
 * The page's record callback posts them with the matter (photo_image, location); the server
 * checks both at the door. Strings come in the slot's data-strings (dashboard/pages/matters.py).
 * Built with DOM calls and textContent only.
 */
(function () {
  'use strict';

  var S = { photo: null, locate: false, where: null, strings: {} };

  function tr(key, fmt) {
    var text = S.strings[key] || key;
    Object.keys(fmt || {}).forEach(function (k) { text = text.split('{' + k + '}').join(String(fmt[k])); });
    return text;
  }

  function el(tag, attrs, kids) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === 'text') { e.textContent = attrs[k]; } else if (k === 'className') { e.className = attrs[k]; }
      else { e.setAttribute(k, attrs[k]); }
    });
    (kids || []).forEach(function (c) { e.appendChild(c); });
    return e;
  }

  function setProps(id, props) {
    var dc = window.dash_clientside;
    if (dc && typeof dc.set_props === 'function') { dc.set_props(id, props); }
  }

  function byId(id) { return document.getElementById(id); }

  function photoText() {
    if (S.photo === 'wait') { return tr('photo_wait'); }
    if (S.photo === 'bad') { return tr('photo_bad'); }
    if (S.photo) { return tr('photo_ready', { w: S.photo.width, h: S.photo.height, kb: Math.round(S.photo.bytes / 1024) }); }
    return '';
  }

  function whereText() {
    if (!S.locate) { return ''; }
    if (S.where === 'wait') { return tr('locating'); }
    if (S.where) { return tr('located', { m: Math.round(S.where.accuracy) }); }
    return tr('no_location');
  }

  function show() {
    var p = S.photo && S.photo.thumb ? S.photo : null;
    var img = byId('matters-photo-thumb');
    if (img) { img.hidden = !p; if (p) { img.src = p.thumb; } else { img.removeAttribute('src'); } }
    var drop = byId('matters-photo-drop');
    if (drop) { drop.hidden = !p; }
    var take = byId('matters-photo-take');
    if (take) { take.textContent = p ? tr('photo_again') : tr('photo_take'); }
    var info = byId('matters-photo-info');
    if (info) { info.textContent = photoText(); }
    var w = byId('matters-where-text');
    if (w) { w.textContent = whereText(); }
  }

  function locate() {
    S.where = 'wait';
    show();
    window.wartimeCapture.locate(function (where) {
      if (!S.locate) { return; }
      S.where = where;
      setProps('matters-where', { data: where ? { lat: where.lat, lon: where.lon, accuracy: where.accuracy } : null });
      show();
    });
  }

  function build(slot) {
    try { S.strings = JSON.parse(slot.getAttribute('data-strings') || '{}'); } catch (e) { S.strings = {}; }
    slot.setAttribute('data-built', '1');
    var input = el('input', { id: 'matters-photo-file', name: 'photo', type: 'file', accept: 'image/*',
                              capture: 'environment', className: 'matters-photo-input' });
    var drop = el('button', { id: 'matters-photo-drop', type: 'button', className: 'matters-secondary matters-photo-drop',
                              'data-action': 'drop-photo', text: tr('photo_drop') });
    var thumb = el('img', { id: 'matters-photo-thumb', className: 'matters-thumb', alt: tr('photo') });
    var box = el('input', { type: 'checkbox', name: 'locate', id: 'matters-locate' });
    [
      el('label', { className: 'matters-label', 'for': 'matters-photo-file', text: tr('photo') }),
      el('div', { className: 'matters-photo' }, [
        input,
        el('label', { id: 'matters-photo-take', 'for': 'matters-photo-file', role: 'button',
                      className: 'matters-secondary matters-photo-take', text: tr('photo_take') }),
        thumb, drop,
        el('small', { id: 'matters-photo-info', className: 'matters-where-text' })
      ]),
      el('label', { className: 'matters-check' }, [
        box, el('span', { text: tr('locate') }),
        el('small', { id: 'matters-where-text', className: 'matters-where-text' })
      ])
    ].forEach(function (c) { slot.appendChild(c); });
    thumb.hidden = true;
    drop.hidden = true;
    input.addEventListener('change', function () {
      var file = input.files && input.files[0];
      if (!file) { return; }
      S.photo = 'wait';
      setProps('matters-photo-data', { data: null });
      show();
      window.wartimeCapture.resize(file).then(function (p) {
        S.photo = p;
        setProps('matters-photo-data', { data: p.dataUrl });
        show();
      }, function () { S.photo = 'bad'; show(); });
      input.value = '';
    });
    drop.addEventListener('click', function () { clear(); setProps('matters-photo-data', { data: null }); });
    box.addEventListener('change', function () {
      S.locate = !!box.checked;  /* a preference: kept for the next matter */
      if (S.locate) { locate(); } else { S.where = null; setProps('matters-where', { data: null }); show(); }
    });
    show();
  }

  /* After a matter is recorded: its photo is gone from the form; a fresh position for the next one. */
  function clear() {
    if (S.photo === 'wait') { return; }
    S.photo = null;
    show();
    if (S.locate && S.where && S.where !== 'wait' && Date.now() - S.where.at > 60000) { locate(); }
  }

  function scan() {
    var slot = byId('matters-capture');
    if (slot && !slot.getAttribute('data-built') && window.wartimeCapture) { build(slot); }
  }

  if (window.MutationObserver) {
    new MutationObserver(scan).observe(document.documentElement, { childList: true, subtree: true });
  }
  document.addEventListener('DOMContentLoaded', scan);

  window.wartimeMattersCapture = { clear: clear };
})();
