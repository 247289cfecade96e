// Drives tus-js-client (Node) against a jitc server, as tests/tus/test_clients.py asks.
//   node client.mjs abort-resume|again ENDPOINT TOKEN FILE STORE SHA256
// abort-resume: upload FILE, abort it part way, and resume it at once from the stored
//   fingerprint, without retries (a 409 would fail it).
// again: upload FILE again with the stored fingerprint of an upload already finished.
// Prints one JSON line: {"ok": bool, "url": ..., "requests": [method...], "error": ...}.
import { readFileSync } from 'node:fs'
import { FileUrlStorage, Upload } from 'tus-js-client'

const [mode, endpoint, token, file, store, sha256] = process.argv.slice(2)
const data = readFileSync(file)
const requests = []

function options(extra) {
  return {
    endpoint,
    headers: { Authorization: `Bearer ${token}` },
    metadata: { filename: 'disk.img', filetype: 'application/octet-stream', sha256 },
    urlStorage: new FileUrlStorage(store),
    retryDelays: null, // no retries: every answer has to be right the first time
    onBeforeRequest: (req) => {
      requests.push(req.getMethod())
    },
    ...extra,
  }
}

function run(upload) {
  return new Promise((resolve) => {
    upload.options.onSuccess = () => resolve({ ok: true })
    upload.options.onError = (error) => resolve({ ok: false, error: String(error) })
    upload.findPreviousUploads().then((previous) => {
      if (previous.length > 0) upload.resumeFromPreviousUpload(previous[0])
      upload.start()
    })
  })
}

async function abortPartWay() {
  let aborted
  const done = new Promise((resolve) => {
    aborted = resolve
  })
  const upload = new Upload(
    data,
    options({
      onProgress: (sent, total) => {
        if (sent > total * 0.4 && !upload._jitcAborted) {
          upload._jitcAborted = true
          upload.abort(false).then(() => aborted({ ok: true, url: upload.url }))
        }
      },
    }),
  )
  const finished = run(upload)
  const first = await Promise.race([done, finished])
  if (!upload._jitcAborted) return { ok: false, error: 'finished before it could be aborted' }
  return first
}

let result
if (mode === 'abort-resume') {
  const first = await abortPartWay()
  if (!first.ok) {
    result = first
  } else {
    const resumed = new Upload(data, options({}))
    result = { ...(await run(resumed)), url: resumed.url }
  }
} else if (mode === 'again') {
  const upload = new Upload(data, options({}))
  result = { ...(await run(upload)), url: upload.url }
} else {
  result = { ok: false, error: `unknown mode ${mode}` }
}
console.log(JSON.stringify({ ...result, requests }))
