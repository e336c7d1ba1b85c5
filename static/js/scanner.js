/*
 * Coupon scanner page behaviour (progressive enhancement).
 *
 * Without JavaScript the form posts normally and the server renders the whole
 * page. With JavaScript:
 *   - the form is posted with fetch() and the server answers with the verdict
 *     fragment only, which replaces the content of #verdict;
 *   - when a camera and a BarcodeDetector (native, or the vendored ponyfill
 *     loading its wasm from our own static URL) are available, QR codes are
 *     read from the camera and submitted through the same path;
 *   - when scanner-offline.js is loaded (window.PCNScannerOffline) and the
 *     browser is offline, or the server does not answer, a QR code is verified
 *     on the phone and queued for the server instead (see that file). Online,
 *     the verdict is always the server's.
 *
 * Each verdict shown is measured from the code handed over to the verdict in
 * the page: performance.measure("scanner-verdict", {detail: {path}}), where
 * path is "online" or "offline" (read by bench/scanner_latency.py).
 *
 * Idempotency: each attempt carries a client_id. A retry of the same code
 * after a network failure reuses it (the server deduplicates); a new scan or a
 * different code gets a fresh one.
 *
 * Must run under: script-src 'self' 'wasm-unsafe-eval'; connect-src 'self'.
 */
(function () {
  "use strict";

  /* Django JavaScript catalog (jsi18n), when loaded; identity otherwise. */
  var gettext = window.gettext || function (s) {
    return s;
  };

  var root = document.querySelector("[data-scanner]");
  if (!root) {
    return;
  }

  var form = document.getElementById("scan-form");
  var codeInput = document.getElementById("id_code");
  var verdictBox = document.getElementById("verdict");
  if (!form || !codeInput || !verdictBox) {
    return;
  }
  var clientIdInput = form.querySelector('input[name="client_id"]');

  var cameraSection = document.getElementById("camera-section");
  var video = document.getElementById("scanner-video");
  var cameraButton = document.getElementById("camera-start");
  var cameraStatus = document.getElementById("camera-status");

  /* Deciding scans on the phone itself (scanner-offline.js), when the page offers it. */
  var phone = window.PCNScannerOffline ? window.PCNScannerOffline.start(root) : null;

  var DETECT_INTERVAL_MS = 200;
  var REQUEST_TIMEOUT_MS = 20000;
  /* When the phone can decide a scan itself, it does not keep the vendor waiting as long. */
  var REQUEST_TIMEOUT_WITH_FALLBACK_MS = 8000;

  var TEXT = {
    pending: gettext("Vérification…"),
    networkErrorTitle: gettext("Pas de réponse du serveur"),
    networkErrorDetail: gettext(
      "Le coupon n’a peut-être pas été validé. Vérifiez la connexion, puis réessayez : le code est conservé."
    ),
    serverErrorTitle: gettext("Erreur du serveur"),
    serverErrorDetail: gettext("Le code est conservé. Réessayez dans un instant."),
    sessionTitle: gettext("Session expirée"),
    sessionDetail: gettext("Rechargez la page pour vous reconnecter, puis réessayez."),
    emptyCodeTitle: gettext("Aucun code"),
    emptyCodeDetail: gettext("Scannez le coupon ou entrez son code à la main."),
    storageErrorTitle: gettext("Scan non enregistré"),
    storageErrorDetail: gettext(
      "Ce téléphone n’a pas pu enregistrer le scan : ne remettez pas les produits. Réessayez, ou attendez le retour du réseau."
    ),
    retry: gettext("Réessayer"),
    value: gettext("Valeur"),
    code: gettext("Code"),
    scanNext: gettext("Scanner un autre coupon"),
    cameraStart: gettext("Activer la caméra"),
    cameraStop: gettext("Arrêter la caméra"),
    cameraStarting: gettext("Activation de la caméra…"),
    cameraAiming: gettext("Visez le code QR du coupon."),
    cameraRead: gettext("Code lu."),
    cameraStopped: gettext("Caméra arrêtée."),
    cameraEnded: gettext(
      "La caméra s’est arrêtée. Touchez « Activer la caméra » pour la relancer."
    ),
    cameraDenied: gettext(
      "Accès à la caméra refusé. Autorisez la caméra dans les réglages du navigateur, ou entrez le code à la main."
    ),
    cameraNotFound: gettext("Aucune caméra trouvée. Entrez le code à la main."),
    cameraBusy: gettext(
      "La caméra est utilisée par une autre application. Fermez-la, puis réessayez."
    ),
    cameraFailed: gettext("Impossible d’activer la caméra. Entrez le code à la main."),
    readerFailed: gettext(
      "Le lecteur de codes QR n’a pas pu se charger. Entrez le code à la main."
    ),
  };

  /* ------------------------------------------------------------------ */
  /* client_id                                                           */
  /* ------------------------------------------------------------------ */

  function newUuid() {
    var c = window.crypto;
    if (c && typeof c.randomUUID === "function") {
      try {
        return c.randomUUID();
      } catch (e) {
        /* randomUUID needs a secure context: fall through. */
      }
    }
    var bytes = new Uint8Array(16);
    if (c && typeof c.getRandomValues === "function") {
      c.getRandomValues(bytes);
    } else {
      for (var i = 0; i < 16; i += 1) {
        bytes[i] = Math.floor(Math.random() * 256);
      }
    }
    bytes[6] = (bytes[6] & 0x0f) | 0x40; // version 4
    bytes[8] = (bytes[8] & 0x3f) | 0x80; // RFC 4122 variant
    var hex = Array.prototype.map
      .call(bytes, function (b) {
        return (b + 0x100).toString(16).slice(1);
      })
      .join("");
    return (
      hex.slice(0, 8) + "-" + hex.slice(8, 12) + "-" + hex.slice(12, 16) + "-" +
      hex.slice(16, 20) + "-" + hex.slice(20)
    );
  }

  function renewClientId() {
    if (clientIdInput) {
      clientIdInput.value = newUuid();
    }
  }

  /*
   * The code of the last attempt whose outcome is unknown (network error,
   * server error). While it is set, submitting the same code again reuses the
   * current client_id; any other code gets a new client_id first.
   */
  var unconfirmedCode = null;

  /* ------------------------------------------------------------------ */
  /* Verdict area                                                        */
  /* ------------------------------------------------------------------ */

  function makeButton(id, label, primary) {
    var button = document.createElement("button");
    button.type = "button";
    button.id = id;
    button.className = primary ? "button button--primary" : "button";
    button.textContent = label;
    return button;
  }

  function showLocalVerdict(status, title, detail, buttons) {
    var box = document.createElement("div");
    box.className = "verdict verdict--" + status;
    box.setAttribute("data-status", status);
    var titleEl = document.createElement("p");
    titleEl.className = "verdict__title";
    titleEl.textContent = title;
    box.appendChild(titleEl);
    if (detail) {
      var detailEl = document.createElement("p");
      detailEl.className = "verdict__detail";
      detailEl.textContent = detail;
      box.appendChild(detailEl);
    }
    if (buttons && buttons.length) {
      var actions = document.createElement("div");
      actions.className = "verdict__actions";
      buttons.forEach(function (b) {
        actions.appendChild(b);
      });
      box.appendChild(actions);
    }
    verdictBox.replaceChildren(box);
    verdictBox.setAttribute("aria-busy", status === "pending" ? "true" : "false");
  }

  function focusVerdict() {
    try {
      verdictBox.focus({ preventScroll: false });
    } catch (e) {
      verdictBox.focus();
    }
    if (typeof verdictBox.scrollIntoView === "function") {
      verdictBox.scrollIntoView({ block: "nearest" });
    }
  }

  /* A verdict decided on this phone (scanner-offline.js), shaped like _verdict.html. */
  function showDecided(verdict, withRetry) {
    var queued = verdict.status === "queued";
    var box = document.createElement("div");
    box.className = "verdict " + (queued ? "verdict--accepted verdict--queued" : "verdict--rejected");
    box.setAttribute("data-status", verdict.status);
    box.setAttribute("data-reason", verdict.reason || "");
    box.setAttribute("data-local", "true");
    var titleEl = document.createElement("p");
    titleEl.className = "verdict__title";
    titleEl.textContent = verdict.title;
    box.appendChild(titleEl);
    var detailEl = document.createElement("p");
    detailEl.className = "verdict__detail";
    detailEl.textContent = verdict.detail;
    box.appendChild(detailEl);
    if (verdict.value) {
      var facts = document.createElement("dl");
      facts.className = "verdict__coupon";
      [[TEXT.value, verdict.value], [TEXT.code, verdict.code]].forEach(function (pair) {
        var dt = document.createElement("dt");
        dt.textContent = pair[0];
        var dd = document.createElement("dd");
        dd.textContent = pair[1];
        facts.appendChild(dt);
        facts.appendChild(dd);
      });
      box.appendChild(facts);
    }
    var actions = document.createElement("div");
    actions.className = "verdict__actions";
    if (withRetry) {
      actions.appendChild(makeButton("scan-retry", TEXT.retry, true));
    }
    actions.appendChild(makeButton("scan-next", TEXT.scanNext, false));
    box.appendChild(actions);
    verdictBox.replaceChildren(box);
    verdictBox.setAttribute("aria-busy", "false");
  }

  /* How long the verdict took to show, from the code handed over (see the header). */
  function measure(started, path) {
    var perf = window.performance;
    if (!perf || typeof perf.measure !== "function" || started === null) {
      return;
    }
    try {
      perf.measure("scanner-verdict", { start: started, end: perf.now(), detail: { path: path } });
    } catch (e) {
      /* An older browser without measure options: nothing to record. */
    }
  }

  function startedAt() {
    return window.performance && typeof window.performance.now === "function"
      ? window.performance.now()
      : null;
  }

  function showError(title, detail) {
    showLocalVerdict("error", title, detail, [
      makeButton("scan-retry", TEXT.retry, true),
      makeButton("scan-next", TEXT.scanNext, false),
    ]);
    focusVerdict();
  }

  /* Parse a server answer; return a DocumentFragment holding a verdict, or null. */
  function parseVerdictFragment(html) {
    var template = document.createElement("template");
    template.innerHTML = html;
    var content = template.content;
    if (!content.querySelector(".verdict, [data-status]")) {
      return null;
    }
    /* Scripts never run from innerHTML, but do not keep them around either. */
    content.querySelectorAll("script").forEach(function (s) {
      s.remove();
    });
    /* The answer also carries the day's updated totals: they replace the page's. */
    var freshToday = content.querySelector("[data-today-summary]");
    if (freshToday) {
      var currentToday = root.querySelector("[data-today-summary]");
      freshToday.remove();
      if (currentToday && !verdictBox.contains(currentToday)) {
        currentToday.replaceWith(freshToday);
      }
    }
    return content;
  }

  /* ------------------------------------------------------------------ */
  /* Submission                                                          */
  /* ------------------------------------------------------------------ */

  var inFlight = false;

  function postForm(timeout) {
    var controller = typeof AbortController === "function" ? new AbortController() : null;
    var timer = controller
      ? window.setTimeout(function () {
          controller.abort();
        }, timeout || REQUEST_TIMEOUT_MS)
      : null;
    var url = form.getAttribute("action") || window.location.href;
    return window
      .fetch(url, {
        method: "POST",
        body: new FormData(form),
        credentials: "same-origin",
        headers: { "X-Scanner": "fetch", Accept: "text/html" },
        cache: "no-store",
        redirect: "follow",
        signal: controller ? controller.signal : undefined,
      })
      .then(function (response) {
        return response.text().then(function (text) {
          return { response: response, text: text };
        });
      })
      .finally(function () {
        if (timer !== null) {
          window.clearTimeout(timer);
        }
      });
  }

  function categoryValue() {
    var select = form.querySelector('[name="category"]');
    return select ? select.value : "";
  }

  /* A verdict decided on this phone. A refusal after the server did not answer keeps the
     code and the client_id, so that "Réessayer" asks the server again for the same scan. */
  function decideHere(code, started, afterNetworkError) {
    return phone.scanHere(code, categoryValue(), clientIdInput ? clientIdInput.value : "")
      .then(function (verdict) {
        var queued = verdict.status === "queued";
        var retry = afterNetworkError && !queued;
        showDecided(verdict, retry);
        measure(started, "offline");
        if (!retry) {
          unconfirmedCode = null;
          renewClientId();
        }
        if (queued) {
          codeInput.value = "";
        }
        focusVerdict();
      })
      .catch(function () {
        /* The phone's storage failed: nothing was queued, so nothing may be handed over. */
        showError(TEXT.storageErrorTitle, TEXT.storageErrorDetail);
      });
  }

  function submitScan() {
    if (inFlight) {
      return;
    }
    var started = startedAt();
    var code = codeInput.value.trim();
    codeInput.value = code;
    if (!code) {
      showLocalVerdict("error", TEXT.emptyCodeTitle, TEXT.emptyCodeDetail, []);
      codeInput.focus();
      return;
    }
    /* A different code than the unconfirmed one is a new scan. */
    if (unconfirmedCode !== null && unconfirmedCode !== code) {
      renewClientId();
    }
    unconfirmedCode = code;

    pauseDetection();
    inFlight = true;
    form.setAttribute("aria-busy", "true");
    showLocalVerdict("pending", TEXT.pending, "", []);

    var done = function () {
      inFlight = false;
      form.removeAttribute("aria-busy");
    };
    if (phone && navigator.onLine === false) {
      decideHere(code, started, false).finally(done);
      return;
    }
    /* The same coupon waiting in this phone's queue: the server does not know it yet. */
    var waiting = phone ? phone.pendingDuplicate(code) : Promise.resolve(null);
    waiting.then(function (duplicate) {
      if (duplicate) {
        showDecided(duplicate, false);
        measure(started, "offline");
        unconfirmedCode = null;
        renewClientId();
        focusVerdict();
        return null;
      }
      return askServer(code, started);
    }).finally(done);
  }

  function askServer(code, started) {
    var fallback = Boolean(phone && phone.canDecideHere(code));
    return postForm(fallback ? REQUEST_TIMEOUT_WITH_FALLBACK_MS : REQUEST_TIMEOUT_MS)
      .then(function (result) {
        var response = result.response;
        var fragment = response.redirected ? null : parseVerdictFragment(result.text);

        if (fragment && response.status < 500) {
          /* The server decided on this attempt: show its verdict. */
          verdictBox.replaceChildren(fragment);
          verdictBox.setAttribute("aria-busy", "false");
          ensureScanNextButton();
          measure(started, "online");
          if (phone && verdictBox.querySelector('[data-status="accepted"]')) {
            phone.rememberAccepted(code);
          }
          unconfirmedCode = null;
          renewClientId();
          if (response.ok) {
            codeInput.value = "";
          }
          focusVerdict();
          return;
        }
        if (response.redirected || response.status === 401 || response.status === 403) {
          showError(TEXT.sessionTitle, TEXT.sessionDetail);
          return;
        }
        showError(TEXT.serverErrorTitle, TEXT.serverErrorDetail + " (" + response.status + ")");
      })
      .catch(function () {
        /* Network failure or timeout: the outcome is unknown; keep code and client_id. A QR
           code can still be decided here, under the same client_id: if the server did record
           this scan, sending it again from the queue gets that same answer back. */
        if (phone && phone.canDecideHere(code)) {
          return decideHere(code, started, true);
        }
        showError(TEXT.networkErrorTitle, TEXT.networkErrorDetail);
        return null;
      });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    submitScan();
  });

  /* Start over: clear the verdict and the code, resume the camera. */
  function scanNext() {
    verdictBox.replaceChildren();
    verdictBox.setAttribute("aria-busy", "false");
    codeInput.value = "";
    if (unconfirmedCode !== null) {
      /* The previous attempt is abandoned: the next scan is a new one. */
      unconfirmedCode = null;
      renewClientId();
    }
    if (stream) {
      setStatus(TEXT.cameraAiming);
      resumeDetection();
      if (cameraButton) {
        cameraButton.focus();
      }
    } else {
      codeInput.focus();
    }
  }

  /* The fragment is expected to contain #scan-next; add one if it does not. */
  function ensureScanNextButton() {
    if (!verdictBox.querySelector("#scan-next")) {
      var holder = verdictBox.querySelector(".verdict") || verdictBox;
      holder.appendChild(makeButton("scan-next", TEXT.scanNext, false));
    }
  }

  verdictBox.addEventListener("click", function (event) {
    var target = event.target instanceof Element ? event.target : null;
    if (!target) {
      return;
    }
    if (target.closest("#scan-next")) {
      event.preventDefault();
      scanNext();
    } else if (target.closest("#scan-retry")) {
      event.preventDefault();
      submitScan();
    }
  });

  /* ------------------------------------------------------------------ */
  /* Camera                                                              */
  /* ------------------------------------------------------------------ */

  var detector = null;
  var warmUpReader = null; // preloads the wasm of the ponyfill, if used
  var stream = null;
  var scanning = false;
  var detectTimer = null;
  var detecting = false;
  var detectFailures = 0;

  function setStatus(text) {
    if (cameraStatus) {
      cameraStatus.textContent = text;
    }
  }

  function supportsCamera() {
    return Boolean(
      cameraSection && video && cameraButton &&
      navigator.mediaDevices && typeof navigator.mediaDevices.getUserMedia === "function"
    );
  }

  function nativeQrDetector() {
    var Native = window.BarcodeDetector;
    if (typeof Native !== "function" || typeof Native.getSupportedFormats !== "function") {
      return Promise.resolve(null);
    }
    return Native.getSupportedFormats()
      .then(function (formats) {
        return formats.indexOf("qr_code") >= 0 ? new Native({ formats: ["qr_code"] }) : null;
      })
      .catch(function () {
        return null;
      });
  }

  function ponyfillQrDetector() {
    var api = window.BarcodeDetectionAPI;
    var wasmPath = root.getAttribute("data-wasm-url");
    if (!api || typeof api.BarcodeDetector !== "function" ||
        typeof api.prepareZXingModule !== "function" || !wasmPath) {
      /* Never let the ponyfill fall back to its default CDN URL. */
      return null;
    }
    var wasmUrl = new URL(wasmPath, document.baseURI).href;
    var overrides = {
      locateFile: function (path, prefix) {
        return /\.wasm$/.test(path) ? wasmUrl : prefix + path;
      },
    };
    api.prepareZXingModule({ overrides: overrides });
    warmUpReader = function () {
      /* Same overrides object: the module promise is created once and reused. */
      return api.prepareZXingModule({ overrides: overrides, fireImmediately: true });
    };
    return new api.BarcodeDetector({ formats: ["qr_code"] });
  }

  function describeCameraError(error) {
    var name = error && error.name;
    if (name === "NotAllowedError" || name === "SecurityError" || name === "PermissionDeniedError") {
      return TEXT.cameraDenied;
    }
    if (name === "NotFoundError" || name === "OverconstrainedError" || name === "DevicesNotFoundError") {
      return TEXT.cameraNotFound;
    }
    if (name === "NotReadableError" || name === "AbortError" || name === "TrackStartError") {
      return TEXT.cameraBusy;
    }
    return TEXT.cameraFailed;
  }

  function scheduleDetect() {
    if (detectTimer === null && scanning) {
      detectTimer = window.setTimeout(detectOnce, DETECT_INTERVAL_MS);
    }
  }

  function pauseDetection() {
    scanning = false;
    if (detectTimer !== null) {
      window.clearTimeout(detectTimer);
      detectTimer = null;
    }
  }

  function resumeDetection() {
    if (!stream || !detector) {
      return;
    }
    scanning = true;
    scheduleDetect();
  }

  function detectOnce() {
    detectTimer = null;
    if (!scanning || detecting || !stream) {
      return;
    }
    if (document.hidden || video.readyState < 2 || !video.videoWidth) {
      scheduleDetect();
      return;
    }
    detecting = true;
    detector
      .detect(video)
      .then(function (codes) {
        detectFailures = 0;
        if (!scanning) {
          return;
        }
        for (var i = 0; i < codes.length; i += 1) {
          if (codes[i] && codes[i].rawValue) {
            onCodeDetected(codes[i].rawValue);
            return;
          }
        }
      })
      .catch(function () {
        detectFailures += 1;
        if (detectFailures >= 5) {
          pauseDetection();
          setStatus(TEXT.readerFailed);
        }
      })
      .finally(function () {
        detecting = false;
        scheduleDetect();
      });
  }

  function onCodeDetected(rawValue) {
    pauseDetection();
    setStatus(TEXT.cameraRead);
    if (typeof navigator.vibrate === "function") {
      try {
        navigator.vibrate(80);
      } catch (e) {
        /* ignore */
      }
    }
    /* A fresh scan: never reuse an abandoned attempt's client_id. */
    if (unconfirmedCode !== null && unconfirmedCode !== rawValue) {
      unconfirmedCode = null;
      renewClientId();
    }
    codeInput.value = rawValue;
    submitScan();
  }

  function stopCamera(message) {
    pauseDetection();
    if (stream) {
      stream.getTracks().forEach(function (track) {
        track.stop();
      });
    }
    stream = null;
    if (video) {
      video.srcObject = null;
    }
    if (cameraButton) {
      cameraButton.textContent = TEXT.cameraStart;
      cameraButton.setAttribute("aria-pressed", "false");
      cameraButton.disabled = false;
    }
    if (cameraSection) {
      cameraSection.classList.remove("scanner__camera--active");
    }
    if (message) {
      setStatus(message);
    }
  }

  function verdictIsShown() {
    return Boolean(verdictBox.querySelector("[data-status]"));
  }

  function startCamera() {
    cameraButton.disabled = true;
    setStatus(TEXT.cameraStarting);
    var readerReady = warmUpReader ? Promise.resolve().then(warmUpReader) : Promise.resolve();
    readerReady.catch(function () {
      /* Reported below if detection keeps failing. */
    });
    navigator.mediaDevices
      .getUserMedia({ video: { facingMode: "environment" }, audio: false })
      .then(function (mediaStream) {
        stream = mediaStream;
        mediaStream.getVideoTracks().forEach(function (track) {
          track.addEventListener("ended", function () {
            if (stream === mediaStream) {
              stopCamera(TEXT.cameraEnded);
            }
          });
        });
        video.srcObject = mediaStream;
        video.muted = true;
        video.setAttribute("playsinline", "");
        return video.play();
      })
      .then(function () {
        return readerReady.then(
          function () {
            return true;
          },
          function () {
            return false;
          }
        );
      })
      .then(function (readerOk) {
        cameraButton.disabled = false;
        cameraButton.textContent = TEXT.cameraStop;
        cameraButton.setAttribute("aria-pressed", "true");
        cameraSection.classList.add("scanner__camera--active");
        if (!readerOk) {
          setStatus(TEXT.readerFailed);
          return;
        }
        /* If a verdict is on screen, wait for "Scanner un autre coupon". */
        if (!verdictIsShown() && !inFlight) {
          setStatus(TEXT.cameraAiming);
          resumeDetection();
        } else {
          setStatus("");
        }
      })
      .catch(function (error) {
        stopCamera(describeCameraError(error));
      });
  }

  function initCamera() {
    if (!supportsCamera()) {
      return;
    }
    nativeQrDetector()
      .then(function (native) {
        detector = native || ponyfillQrDetector();
        if (!detector) {
          return;
        }
        cameraSection.hidden = false;
        cameraButton.setAttribute("aria-pressed", "false");
        cameraButton.addEventListener("click", function () {
          if (stream) {
            stopCamera(TEXT.cameraStopped);
          } else {
            startCamera();
          }
        });
      })
      .catch(function () {
        /* Leave the camera section hidden: manual entry still works. */
      });
  }

  /* Release the camera when the page goes away (also frees it for other apps). */
  window.addEventListener("pagehide", function () {
    if (stream) {
      stopCamera("");
    }
  });

  initCamera();
})();
