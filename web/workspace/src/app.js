// JIT Custody web workspace: progressive enhancement for every page.
// The pages work without this file; it only adds comfort. No inline script anywhere
// (Content-Security-Policy: script-src 'self').
(function () {
  'use strict';

  // Parts that need a script are hidden until it runs; their no-script notes hide then.
  document.querySelectorAll('.js-only').forEach(function (el) { el.hidden = false; });
  document.querySelectorAll('.needs-js').forEach(function (el) { el.hidden = true; });

  // Tell the server the browser's time zone, so times show in it (UTC beside them).
  try {
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    var current = document.cookie.split('; ').find(function (c) { return c.indexOf('jitc-tz=') === 0; });
    if (zone && (!current || decodeURIComponent(current.slice(8)) !== zone)) {
      document.cookie = 'jitc-tz=' + encodeURIComponent(zone) + '; path=/; max-age=31536000; samesite=strict' +
        (location.protocol === 'https:' ? '; secure' : '');
    }
  } catch (e) { /* no Intl: times stay in UTC */ }

  // Forms whose action cannot be undone ask first.
  document.addEventListener('submit', function (event) {
    var form = event.target;
    var question = form && form.getAttribute && form.getAttribute('data-confirm');
    if (question && !window.confirm(question)) { event.preventDefault(); }
  });

  // htmx requests carry the CSRF token as a header as well as in their forms.
  document.addEventListener('htmx:configRequest', function (event) {
    var meta = document.querySelector('meta[name="csrf-token"]');
    if (meta) { event.detail.headers['X-CSRF-Token'] = meta.content; }
  });
})();
