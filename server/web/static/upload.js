// Resumable upload of an exhibit's content, on the exhibit page.
//
// 1. The file is hashed in the browser, streaming: SHA-256 over file.slice() pieces
//    (hash-wasm), so a file of many GiB is never held in memory.
// 2. It is sent with tus (tus-js-client), declaring that SHA-256 in Upload-Metadata
//    (`sha256`): the server refuses the content if the bytes it stored have another.
// 3. tus-js-client keeps the upload's URL in localStorage under a fingerprint of the
//    file (and of its hash), so after a reload, choosing the same file again resumes
//    where the server stopped receiving.
// 4. A dropped network does not end the upload: it waits (Resume stays offered) and goes
//    on by itself when the browser is online again, from the server's offset, without
//    hashing the file again.
// The API is called with the session cookie (HttpOnly: this script never sees the token)
// and the page's CSRF token in X-CSRF-Token (server.web.apiauth).
(function () {
  'use strict';
  var panel = document.getElementById('upload');
  if (!panel || !window.tus || !window.hashwasm || !tus.isSupported) { return; }

  var HASH_PIECE = 4 * 1024 * 1024;
  var CHUNK = 32 * 1024 * 1024;
  var messages = JSON.parse(panel.getAttribute('data-messages'));
  var endpoint = panel.getAttribute('data-endpoint');
  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  var lang = document.documentElement.lang || 'en';
  var input = document.getElementById('upload-file');
  var bar = document.getElementById('upload-progress');
  var status = document.getElementById('upload-status');
  var sentOut = document.getElementById('upload-sent');
  var speedOut = document.getElementById('upload-speed');
  var leftOut = document.getElementById('upload-left');
  var shaOut = document.getElementById('upload-sha256');
  var pause = document.getElementById('upload-pause');
  var resume = document.getElementById('upload-resume');
  var upload = null;
  var samples = [];
  var waiting = false; // stopped by the network, not by the user or a refusal

  // Worth trying again: no answer at all, an upload held by another request (409, 423),
  // or a server error.
  function transient(code) {
    return !code || code === 409 || code === 423 || code >= 500;
  }

  function say(key, values) {
    var text = messages[key] || key;
    Object.keys(values || {}).forEach(function (name) {
      text = text.split('{' + name + '}').join(String(values[name]));
    });
    status.textContent = text;
  }

  function size(bytes) {
    var units = ['B', 'kB', 'MB', 'GB', 'TB'];
    var value = bytes;
    var unit = 0;
    while (value >= 1000 && unit < units.length - 1) { value /= 1000; unit += 1; }
    return new Intl.NumberFormat(lang, { maximumFractionDigits: 1 }).format(value) + ' ' + units[unit];
  }

  function percent(part, whole) {
    return new Intl.NumberFormat(lang, { style: 'percent', maximumFractionDigits: 0 })
      .format(whole ? part / whole : 1);
  }

  function duration(seconds) {
    var s = Math.max(0, Math.round(seconds));
    var h = Math.floor(s / 3600);
    var m = Math.floor((s % 3600) / 60);
    var rest = s % 60;
    return (h ? h + ' h ' : '') + (h || m ? m + ' min ' : '') + rest + ' s';
  }

  async function sha256Of(file) {
    var hasher = await hashwasm.createSHA256();
    hasher.init();
    for (var offset = 0; offset < file.size; offset += HASH_PIECE) {
      var piece = await file.slice(offset, offset + HASH_PIECE).arrayBuffer();
      hasher.update(new Uint8Array(piece));
      var done = Math.min(file.size, offset + HASH_PIECE);
      bar.value = 100 * done / file.size;
      say('hashing', { percent: percent(done, file.size) });
    }
    return hasher.digest('hex');
  }

  function showProgress(sent, total) {
    var now = performance.now();
    samples.push([now, sent]);
    while (samples.length > 2 && now - samples[0][0] > 5000) { samples.shift(); }
    bar.value = 100 * sent / total;
    bar.setAttribute('aria-valuetext', percent(sent, total));
    sentOut.textContent = messages.of.split('{sent}').join(size(sent)).split('{total}').join(size(total));
    say('uploading', { percent: percent(sent, total) });
    if (samples.length > 1) {
      var first = samples[0];
      var seconds = (now - first[0]) / 1000;
      var rate = seconds > 0 ? (sent - first[1]) / seconds : 0;
      if (rate > 0) {
        speedOut.textContent = messages.per_second.split('{size}').join(size(rate));
        leftOut.textContent = messages.left.split('{time}').join(duration((total - sent) / rate));
      }
    }
  }

  function goOn() {
    waiting = false;
    resume.hidden = true;
    pause.hidden = false;
    samples = [];
    if (upload) { upload.start(); }
  }

  async function start(file) {
    input.disabled = true;
    waiting = false;
    var digest = await sha256Of(file);
    shaOut.textContent = digest;
    bar.value = 0;
    samples = [];
    upload = new tus.Upload(file, {
      endpoint: endpoint,
      chunkSize: CHUNK,
      retryDelays: [0, 1000, 3000, 5000, 10000, 20000, 30000, 60000],
      headers: { 'X-CSRF-Token': csrf },
      metadata: { filename: file.name, filetype: file.type || 'application/octet-stream', sha256: digest },
      removeFingerprintOnSuccess: true,
      fingerprint: function (f) {
        return Promise.resolve(['jitc', endpoint, f.name, f.type, f.size, f.lastModified, digest].join('|'));
      },
      onAfterResponse: function (req, res) {
        if (req.getMethod() === 'HEAD' && res.getStatus() === 200) {
          var offset = parseInt(res.getHeader('Upload-Offset') || '0', 10);
          say('resuming', { offset: size(offset) });
          panel.setAttribute('data-resumed-at', String(offset));
        }
      },
      onProgress: showProgress,
      onShouldRetry: function (err, attempt, options) {
        // Offline, retries would be spent for nothing: wait for the 'online' event.
        if (!navigator.onLine) { return false; }
        var retry = transient(err.originalResponse ? err.originalResponse.getStatus() : 0);
        if (retry) { say('retrying'); }
        return retry;
      },
      onError: function (err) {
        var res = err.originalResponse;
        var code = res ? res.getStatus() : 0;
        input.disabled = false;
        pause.hidden = true;
        resume.hidden = true;
        if (!navigator.onLine || transient(code)) {
          // The network or the server is away: keep this upload (its URL, the digest) and
          // go on from the server's offset when the browser is online, or on Resume.
          waiting = true;
          resume.hidden = false;
          say(navigator.onLine ? 'paused' : 'retrying');
          return;
        }
        if (code >= 400 && code < 500) {
          var body = res.getBody() || '';
          var detail = body;
          try { detail = JSON.parse(body).error.message; } catch (e) { /* plain text */ }
          say('refused', { error: detail || res.getStatus() });
        } else {
          say('failed', { error: err.message });
        }
      },
      onSuccess: function (payload) {
        var stored = payload.lastResponse.getHeader('JITC-Content-SHA256') || '';
        pause.hidden = true;
        resume.hidden = true;
        bar.value = 100;
        if (stored && stored !== digest) {
          say('mismatch', { sha256: stored });
          return;
        }
        // Only what the server said it computed is shown as the server's; without its
        // answer the reloaded page shows the SHA-256 it recorded.
        if (stored) { say('stored', { sha256: stored }); }
        panel.setAttribute('data-stored-sha256', stored);
        // The page itself then shows what the server recorded.
        window.location.reload();
      }
    });
    var previous = await upload.findPreviousUploads();
    if (previous.length) {
      upload.resumeFromPreviousUpload(previous[0]);
    } else {
      say('starting');
    }
    pause.hidden = false;
    upload.start();
  }

  input.addEventListener('change', function () {
    var file = input.files && input.files[0];
    if (file) { start(file); }
  });
  pause.addEventListener('click', function () {
    waiting = false;
    if (upload) { upload.abort(); }
    pause.hidden = true;
    resume.hidden = false;
    say('paused');
  });
  resume.addEventListener('click', goOn);
  window.addEventListener('offline', function () {
    // A request in flight may hang until TCP gives up: stop it now, keep the place.
    if (upload && !pause.hidden) {
      upload.abort();
      waiting = true;
      pause.hidden = true;
      resume.hidden = false;
      say('retrying');
    }
  });
  window.addEventListener('online', function () {
    if (waiting) { goOn(); }
  });
})();
