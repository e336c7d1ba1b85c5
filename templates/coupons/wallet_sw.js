/* The digital wallet's service worker (served by coupons.wallet_views.wallet_service_worker).

   Network first for the wallet pages under its scope and for their static files: online, the
   household always sees today's coupons; offline, the copy saved at the last visit. A link
   that answers 404 (revoked or replaced) has its saved copy deleted. */
"use strict";

const CACHE = "wallet-" + {{ version|safe }};
const SCOPE = {{ scope|safe }};
const ASSETS = {{ assets|safe }};
const ONLINE_MARK = 'data-wallet-source="network"';
const OFFLINE_MARK = 'data-wallet-source="cache"';

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches.open(CACHE).then((cache) => cache.addAll(ASSETS)).then(() => self.skipWaiting())
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(
        keys.filter((key) => key.startsWith("wallet-") && key !== CACHE).map((key) => caches.delete(key))
      ))
      .then(() => self.clients.claim())
  );
});

function isWalletPage(url) {
  return url.origin === self.location.origin && url.pathname.startsWith(SCOPE) &&
    url.pathname.endsWith("/");
}

function isAsset(url) {
  return url.origin === self.location.origin &&
    (ASSETS.includes(url.pathname) || url.pathname.endsWith("/manifest.webmanifest"));
}

// The saved copy, marked so that the page can say it is showing codes saved earlier.
async function markedAsSaved(response) {
  const html = await response.text();
  return new Response(html.replace(ONLINE_MARK, OFFLINE_MARK), {
    status: response.status,
    statusText: response.statusText,
    headers: response.headers,
  });
}

async function networkFirst(request, page) {
  const cache = await caches.open(CACHE);
  let response;
  try {
    response = await fetch(request);
  } catch (error) {
    const saved = (await cache.match(request, { ignoreVary: true })) ||
      (page ? await cache.match(request, { ignoreSearch: true, ignoreVary: true }) : undefined);
    if (!saved) {
      throw error;
    }
    return page ? markedAsSaved(saved) : saved;
  }
  if (response.ok) {
    await cache.put(request, response.clone());
  } else if (page && response.status === 404) {
    await cache.delete(request, { ignoreSearch: true, ignoreVary: true });
  }
  return response;
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") {
    return;
  }
  const url = new URL(request.url);
  const page = request.mode === "navigate" && isWalletPage(url);
  if (page || isAsset(url)) {
    event.respondWith(networkFirst(request, page));
  }
});

// wallet.js asks for the page it is on to be saved at once, so that the very first visit
// already works offline (that page was loaded before this worker was running).
self.addEventListener("message", (event) => {
  const data = event.data || {};
  if (typeof data.save !== "string") {
    return;
  }
  const url = new URL(data.save, self.location.href);
  if (!isWalletPage(url)) {
    return;
  }
  event.waitUntil(
    caches.open(CACHE).then((cache) =>
      fetch(url.href, { credentials: "same-origin" }).then((response) =>
        response.ok ? cache.put(url.href, response) : undefined
      )
    ).catch(() => undefined)
  );
});
