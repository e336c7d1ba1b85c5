/* The scanner's service worker (served by marches.scanner_views.scanner_service_worker).

   The scanner page under its scope: network first, so that online the vendor sees today's
   totals; when the network fails (or takes more than a few seconds, as at a market with one bar
   of signal), the copy saved at the last visit, marked so that the page knows. Its static files,
   the barcode reader's wasm and the JavaScript catalog: from the cache, refreshed in the
   background. Nothing else is touched: the API calls and the scans' POSTs go to the network. */
"use strict";

const CACHE = "scanner-" + {{ version|safe }};
const SCOPE = {{ scope|safe }};
const ASSETS = {{ assets|safe }};
const ONLINE_MARK = 'data-scanner-source="network"';
const OFFLINE_MARK = 'data-scanner-source="cache"';
const PAGE_TIMEOUT_MS = 5000;

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches.open(CACHE).then((cache) => cache.addAll(ASSETS)).then(() => self.skipWaiting())
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(
        keys.filter((key) => key.startsWith("scanner-") && key !== CACHE).map((key) => caches.delete(key))
      ))
      .then(() => self.clients.claim())
  );
});

function isScannerPage(url) {
  return url.origin === self.location.origin && url.pathname.startsWith(SCOPE) &&
    url.pathname.endsWith("/scanner/");
}

function isAsset(url) {
  return url.origin === self.location.origin && ASSETS.includes(url.pathname);
}

async function markedAsSaved(response) {
  const html = await response.text();
  const headers = new Headers(response.headers);
  headers.delete("Content-Length");
  return new Response(html.replace(ONLINE_MARK, OFFLINE_MARK), {
    status: response.status,
    statusText: response.statusText,
    headers: headers,
  });
}

async function savePage(cache, request, response) {
  if (response.ok && !response.redirected) {
    await cache.put(request, response.clone());
  } else if (response.status === 404) {
    // The vendor is gone from this person's scope: forget the page.
    await cache.delete(request, { ignoreSearch: true, ignoreVary: true });
  }
}

async function scannerPage(event) {
  const request = event.request;
  const cache = await caches.open(CACHE);
  const network = fetch(request).then(async (response) => {
    await savePage(cache, request, response);
    return response;
  });
  // The network's answer keeps updating the copy even when the copy is shown first.
  event.waitUntil(network.catch(() => undefined));
  const saved = () => cache.match(request, { ignoreSearch: true, ignoreVary: true });
  let timer;
  const slow = new Promise((resolve) => {
    timer = setTimeout(() => resolve("slow"), PAGE_TIMEOUT_MS);
  });
  try {
    const first = await Promise.race([network, slow]);
    if (first !== "slow") {
      return first;
    }
    const copy = await saved();
    return copy ? markedAsSaved(copy) : await network;
  } catch (error) {
    const copy = await saved();
    if (!copy) {
      throw error;
    }
    return markedAsSaved(copy);
  } finally {
    clearTimeout(timer);
  }
}

async function asset(event) {
  const cache = await caches.open(CACHE);
  const refresh = fetch(event.request).then(async (response) => {
    if (response.ok) {
      await cache.put(event.request, response.clone());
    }
    return response;
  });
  const copy = await cache.match(event.request, { ignoreVary: true });
  if (copy) {
    event.waitUntil(refresh.catch(() => undefined));
    return copy;
  }
  return refresh;
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") {
    return;
  }
  const url = new URL(request.url);
  if (request.mode === "navigate" && isScannerPage(url)) {
    event.respondWith(scannerPage(event));
  } else if (isAsset(url)) {
    event.respondWith(asset(event));
  }
});

// scanner-offline.js asks for the page it is on to be saved at once, so that the very first
// visit already opens offline (that page was loaded before this worker was running).
self.addEventListener("message", (event) => {
  const data = event.data || {};
  if (typeof data.save !== "string") {
    return;
  }
  const url = new URL(data.save, self.location.href);
  url.search = "";
  url.hash = "";
  if (!isScannerPage(url)) {
    return;
  }
  event.waitUntil(
    caches.open(CACHE).then((cache) =>
      fetch(url.href, { credentials: "same-origin" }).then((response) =>
        savePage(cache, new Request(url.href), response)
      )
    ).catch(() => undefined)
  );
});
