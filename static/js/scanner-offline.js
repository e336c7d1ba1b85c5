/*
 * The scanner without a network: pairing, configuration, local verification, queue and sync.
 *
 * window.PCNScannerOffline.start(root) → a controller that scanner.js uses, or null when the
 * page does not offer offline scanning (no data-config-url) or the browser lacks IndexedDB.
 *
 * - Pairing: a browser with no device token for this vendor and market (data-scope) POSTs to
 *   data-pair-url (session + CSRF) and keeps the token it gets in IndexedDB. A token the server
 *   no longer accepts (401: the device was revoked on the vendor's device page) is forgotten and
 *   the page asks before pairing again.
 * - Configuration (data-config-url, with the token): the market's programs, their categories
 *   and offline limits, the public keys, the revocation list; fetched whenever online and kept
 *   in IndexedDB for the times it is not.
 * - A scan decided here (offline, or after the server did not answer) is verified by
 *   PCNCoupon (signature, program, revocation, validity, this phone's own earlier scans, the
 *   program's offline limit), then stored in the queue with its client_id in the same
 *   IndexedDB transaction as the checks, before its verdict is shown.
 * - Sync: the queue goes to data-batch-url (items "offline": true) when the browser is online,
 *   on the "online" event, every SYNC_INTERVAL_MS while scans wait, and on "Envoyer
 *   maintenant". An item leaves the queue only once the server has answered for it, so a sync
 *   whose answer is lost is sent again with the same client_ids (the server replays them).
 * - The service worker (data-sw-url) keeps the page and its files, so it opens offline.
 */
(function (global) {
  "use strict";

  var gettext = global.gettext || function (s) {
    return s;
  };

  function interpolate(format, values) {
    if (typeof global.interpolate === "function") {
      return global.interpolate(format, values, true);
    }
    return format.replace(/%\((\w+)\)s/g, function (match, name) {
      return String(values[name]);
    });
  }

  var DB_NAME = "pcn-scanner";
  var DB_VERSION = 1;
  var MAX_BATCH = 500;
  var SYNC_INTERVAL_MS = 20000;
  var CONFIG_INTERVAL_MS = 10 * 60000;
  var REQUEST_TIMEOUT_MS = 20000;
  var HISTORY_DAYS = 60;

  /* ------------------------------------------------------------------ */
  /* IndexedDB                                                           */
  /* ------------------------------------------------------------------ */

  function openDatabase() {
    return new Promise(function (resolve, reject) {
      var request = global.indexedDB.open(DB_NAME, DB_VERSION);
      request.onupgradeneeded = function () {
        var db = request.result;
        // The device token of each vendor/market ("scope") this browser scans for.
        db.createObjectStore("devices", { keyPath: "scope" });
        db.createObjectStore("configs", { keyPath: "scope" });
        // Scans accepted here and not yet answered by the server.
        db.createObjectStore("queue", { keyPath: "client_id" }).createIndex("scope", "scope");
        // Coupons this phone redeemed (synced or online): refused offline if scanned again.
        db.createObjectStore("history", { keyPath: "key" }).createIndex("scope", "scope");
        // The answers of the last sync, shown until the next one.
        db.createObjectStore("results", { keyPath: "scope" });
      };
      request.onsuccess = function () {
        resolve(request.result);
      };
      request.onerror = function () {
        reject(request.error);
      };
      request.onblocked = function () {
        reject(new Error("IndexedDB upgrade blocked"));
      };
    });
  }

  function Store() {
    this.db = openDatabase();
  }

  /* Run `work(transaction, out)`; resolves with out.value once the transaction has committed. */
  Store.prototype.transact = function (names, mode, work) {
    return this.db.then(function (db) {
      return new Promise(function (resolve, reject) {
        var transaction = db.transaction(names, mode);
        var out = { value: undefined };
        transaction.oncomplete = function () {
          resolve(out.value);
        };
        transaction.onerror = function () {
          reject(transaction.error);
        };
        transaction.onabort = function () {
          reject(transaction.error || new Error("transaction aborted"));
        };
        try {
          work(transaction, out);
        } catch (error) {
          try {
            transaction.abort();
          } catch (ignored) {
            /* already finished */
          }
          reject(error);
        }
      });
    });
  };

  Store.prototype.get = function (name, key) {
    return this.transact([name], "readonly", function (transaction, out) {
      var request = transaction.objectStore(name).get(key);
      request.onsuccess = function () {
        out.value = request.result;
      };
    });
  };

  Store.prototype.put = function (name, value) {
    return this.transact([name], "readwrite", function (transaction) {
      transaction.objectStore(name).put(value);
    });
  };

  Store.prototype.byScope = function (name, scope) {
    return this.transact([name], "readonly", function (transaction, out) {
      var request = transaction.objectStore(name).index("scope").getAll(scope);
      request.onsuccess = function () {
        out.value = request.result || [];
      };
    });
  };

  /* ------------------------------------------------------------------ */
  /* Formatting                                                          */
  /* ------------------------------------------------------------------ */

  function pad(n) {
    return (n < 10 ? "0" : "") + n;
  }

  /* An ISO 8601 time with this phone's UTC offset and milliseconds, e.g.
   * 2026-07-04T10:42:00.123-04:00: the server orders two scans of one coupon by it, so a
   * scan must not look earlier than it was by dropping its fraction of a second. */
  function isoWithOffset(date) {
    var ms = date.getMilliseconds();
    var offset = -date.getTimezoneOffset();
    var sign = offset >= 0 ? "+" : "-";
    var abs = Math.abs(offset);
    return (
      date.getFullYear() + "-" + pad(date.getMonth() + 1) + "-" + pad(date.getDate()) + "T" +
      pad(date.getHours()) + ":" + pad(date.getMinutes()) + ":" + pad(date.getSeconds()) +
      "." + (ms < 100 ? "0" : "") + pad(ms) +
      sign + pad(Math.floor(abs / 60)) + ":" + pad(abs % 60)
    );
  }

  /* Today's date (YYYY-MM-DD) in the market's time zone: the coupons' validity is in its days. */
  function localDay(date, timeZone) {
    try {
      var parts = new Intl.DateTimeFormat("en-CA", {
        timeZone: timeZone, year: "numeric", month: "2-digit", day: "2-digit",
      }).formatToParts(date);
      var get = function (type) {
        return parts.filter(function (p) {
          return p.type === type;
        })[0].value;
      };
      return get("year") + "-" + get("month") + "-" + get("day");
    } catch (e) {
      return date.getFullYear() + "-" + pad(date.getMonth() + 1) + "-" + pad(date.getDate());
    }
  }

  /* "5.00" → 500, without floating point. */
  function cents(decimal) {
    var match = /^(\d+)(?:\.(\d{1,2}))?$/.exec(String(decimal || "0").trim());
    if (!match) {
      return 0;
    }
    return parseInt(match[1], 10) * 100 + parseInt(((match[2] || "") + "00").slice(0, 2), 10);
  }

  function decimalOf(valueCents) {
    return Math.floor(valueCents / 100) + "." + pad(valueCents % 100);
  }

  function Formats(language) {
    this.language = language || "fr-CA";
  }

  Formats.prototype.money = function (valueCents, currency) {
    try {
      return new Intl.NumberFormat(this.language, {
        style: "currency", currency: currency || "CAD",
      }).format(valueCents / 100);
    } catch (e) {
      return decimalOf(valueCents) + " " + (currency || "");
    }
  };

  /* Times are shown in the program's time zone (the config's), not the phone's setting. */
  Formats.prototype.time = function (iso) {
    var date = new Date(iso);
    var options = { hour: "2-digit", minute: "2-digit" };
    if (this.timeZone) {
      options.timeZone = this.timeZone;
    }
    if (localDay(new Date(), this.timeZone) !== localDay(date, this.timeZone)) {
      options.day = "numeric";
      options.month = "short";
    }
    try {
      return new Intl.DateTimeFormat(this.language, options).format(date);
    } catch (e) {
      delete options.timeZone;
      return new Intl.DateTimeFormat(this.language, options).format(date);
    }
  };

  Formats.prototype.day = function (isoDay) {
    return new Intl.DateTimeFormat(this.language, {
      day: "numeric", month: "long", year: "numeric", timeZone: "UTC",
    }).format(new Date(isoDay + "T00:00:00Z"));
  };

  /* The end of a code, enough for the vendor to tell two coupons apart. */
  function shortCode(code) {
    return "…" + String(code || "").slice(-4);
  }

  /* ------------------------------------------------------------------ */
  /* Network                                                             */
  /* ------------------------------------------------------------------ */

  function timedFetch(url, options) {
    var controller = typeof AbortController === "function" ? new AbortController() : null;
    var timer = controller
      ? global.setTimeout(function () {
          controller.abort();
        }, REQUEST_TIMEOUT_MS)
      : null;
    var init = Object.assign({ credentials: "same-origin", cache: "no-store" }, options);
    if (controller) {
      init.signal = controller.signal;
    }
    return global.fetch(url, init).finally(function () {
      if (timer !== null) {
        global.clearTimeout(timer);
      }
    });
  }

  function online() {
    return global.navigator.onLine !== false;
  }

  /* ------------------------------------------------------------------ */
  /* The controller                                                      */
  /* ------------------------------------------------------------------ */

  function Scanner(root) {
    this.root = root;
    this.scope = root.getAttribute("data-scope") || "";
    this.urls = {
      pair: root.getAttribute("data-pair-url"),
      config: root.getAttribute("data-config-url"),
      batch: root.getAttribute("data-batch-url"),
      redeem: root.getAttribute("data-redeem-url"),
      sw: root.getAttribute("data-sw-url"),
    };
    this.language = document.documentElement.getAttribute("lang") || "fr";
    this.formats = new Formats(this.language === "en" ? "en-CA" : "fr-CA");
    this.store = new Store();
    this.device = null;
    this.config = null;
    this.syncing = null;
    this.pending = [];
    this.crypto = global.PCNCoupon ? global.PCNCoupon.supportsEd25519() : Promise.resolve(false);
    this.el = {
      network: document.getElementById("scanner-network"),
      device: document.getElementById("scanner-device"),
      pairing: document.getElementById("scanner-pairing"),
      pairingText: document.getElementById("scanner-pairing-text"),
      pairButton: document.getElementById("scanner-pair"),
      queue: document.getElementById("scanner-queue"),
      queueCount: document.getElementById("scanner-queue-count"),
      queueRows: document.getElementById("scanner-queue-rows"),
      syncButton: document.getElementById("scanner-sync"),
      syncStatus: document.getElementById("scanner-sync-status"),
      results: document.getElementById("scanner-results"),
      resultsSummary: document.getElementById("scanner-results-summary"),
      resultsRows: document.getElementById("scanner-results-rows"),
    };
    this.fromCache = root.getAttribute("data-scanner-source") === "cache";
  }

  Scanner.prototype.start = function () {
    var self = this;
    this.bindEvents();
    this.showNetwork();
    this.registerServiceWorker();
    this.ready = Promise.all([
      this.store.get("devices", this.scope),
      this.store.get("configs", this.scope),
      this.store.get("results", this.scope),
    ])
      .then(function (found) {
        self.device = found[0] || null;
        self.config = found[1] ? found[1].config : null;
        self.formats.timeZone = self.config ? self.config.time_zone : undefined;
        if (found[2]) {
          self.renderResults(found[2]);
        }
        self.showDevice();
        return self.loadQueue();
      })
      .then(function () {
        return self.pruneHistory();
      })
      .catch(function () {
        /* IndexedDB unavailable (private mode): online scanning still works. */
      });
    this.ready.then(function () {
      return self.connect();
    });
    global.setInterval(function () {
      if (self.pending.length && online()) {
        self.sync();
      }
    }, SYNC_INTERVAL_MS);
    global.setInterval(function () {
      if (online() && self.device && self.device.token) {
        self.refreshConfig();
      }
    }, CONFIG_INTERVAL_MS);
    return this;
  };

  Scanner.prototype.bindEvents = function () {
    var self = this;
    global.addEventListener("online", function () {
      self.showNetwork();
      self.connect();
    });
    global.addEventListener("offline", function () {
      self.showNetwork();
    });
    if (this.el.syncButton) {
      this.el.syncButton.addEventListener("click", function () {
        self.sync();
      });
    }
    if (this.el.pairButton) {
      this.el.pairButton.addEventListener("click", function () {
        self.pair().then(function () {
          return self.refreshConfig();
        }).then(function () {
          return self.sync();
        });
      });
    }
  };

  /* Online: make sure this browser is paired, fetch the configuration, send the queue. */
  Scanner.prototype.connect = function () {
    var self = this;
    if (!online()) {
      return Promise.resolve();
    }
    var paired = this.device && this.device.token
      ? Promise.resolve(this.device)
      : this.device && this.device.revoked
        ? Promise.resolve(null) // ask first: see showDevice()
        : this.pair();
    return paired
      .then(function (device) {
        return device ? self.refreshConfig() : null;
      })
      .then(function () {
        return self.sync();
      })
      .catch(function () {
        /* Shown where it happened; retried at the next occasion. */
      });
  };

  Scanner.prototype.csrfToken = function () {
    var input = document.querySelector('#scan-form input[name="csrfmiddlewaretoken"]');
    return input ? input.value : "";
  };

  Scanner.prototype.pair = function () {
    var self = this;
    if (!this.urls.pair) {
      return Promise.resolve(null);
    }
    return timedFetch(this.urls.pair, {
      method: "POST",
      headers: { "X-CSRFToken": this.csrfToken(), Accept: "application/json" },
    })
      .then(function (response) {
        if (response.status !== 201 || response.redirected) {
          throw new Error("pairing refused: " + response.status);
        }
        return response.json();
      })
      .then(function (body) {
        self.device = {
          scope: self.scope,
          token: body.token,
          device: body.device,
          name: body.name,
          paired_at: new Date().toISOString(),
          revoked: false,
        };
        return self.store.put("devices", self.device);
      })
      .then(function () {
        self.showDevice();
        return self.device;
      })
      .catch(function (error) {
        self.showPairing(gettext(
          "Ce navigateur n’a pas pu être associé comme appareil de scan. Rechargez la page (reconnectez-vous au besoin), puis réessayez."
        ));
        throw error;
      });
  };

  /* The server no longer knows this token: forget it, keep the queue, ask to pair again. */
  Scanner.prototype.forgetToken = function () {
    this.device = { scope: this.scope, token: null, revoked: true };
    this.showDevice();
    return this.store.put("devices", this.device).catch(function () {});
  };

  Scanner.prototype.authHeaders = function () {
    return {
      Authorization: "Bearer " + this.device.token,
      Accept: "application/json",
      "Accept-Language": this.language,
    };
  };

  Scanner.prototype.refreshConfig = function () {
    var self = this;
    if (!this.urls.config || !this.device || !this.device.token) {
      return Promise.resolve(null);
    }
    return timedFetch(this.urls.config, { headers: this.authHeaders() })
      .then(function (response) {
        if (response.status === 401) {
          return self.forgetToken().then(function () {
            return null;
          });
        }
        if (!response.ok) {
          return null;
        }
        return response.json().then(function (config) {
          config.received_at = new Date().toISOString();
          self.config = config;
          self.formats.timeZone = config.time_zone;
          self.showDevice();
          return self.store.put("configs", { scope: self.scope, config: config }).then(function () {
            return config;
          });
        });
      })
      .catch(function () {
        return null;
      });
  };

  /* ------------------------------------------------------------------ */
  /* Status lines                                                        */
  /* ------------------------------------------------------------------ */

  Scanner.prototype.showNetwork = function () {
    var el = this.el.network;
    if (!el) {
      return;
    }
    if (!online()) {
      el.hidden = false;
      el.className = "scanner__network scanner__network--offline";
      el.textContent = gettext(
        "Hors ligne : les codes QR sont vérifiés sur ce téléphone et les coupons acceptés seront envoyés au retour du réseau."
      );
    } else if (this.fromCache) {
      el.hidden = false;
      el.className = "scanner__network";
      el.textContent = gettext("Page ouverte sans réseau : rechargez-la pour voir le total à jour.");
    } else {
      el.hidden = true;
      el.textContent = "";
    }
  };

  Scanner.prototype.showDevice = function () {
    if (this.device && this.device.revoked) {
      this.showPairing(gettext(
        "Cet appareil a été révoqué : ce navigateur ne peut plus envoyer de coupons. Associez-le de nouveau pour continuer (les coupons en attente sont conservés)."
      ));
    } else if (this.el.pairing) {
      this.el.pairing.hidden = true;
    }
    if (!this.el.device) {
      return;
    }
    if (this.device && this.device.token) {
      var text = interpolate(gettext("Appareil : %(name)s."), { name: this.device.name || "" });
      if (this.config && this.config.received_at) {
        text += " " + interpolate(gettext("Liste des coupons annulés reçue à %(time)s."), {
          time: this.formats.time(this.config.received_at),
        });
      }
      this.el.device.textContent = text;
      this.el.device.hidden = false;
    } else {
      this.el.device.hidden = true;
    }
  };

  Scanner.prototype.showPairing = function (text) {
    if (this.el.pairing && this.el.pairingText) {
      this.el.pairingText.textContent = text;
      this.el.pairing.hidden = false;
    }
  };

  /* ------------------------------------------------------------------ */
  /* Local verdicts                                                      */
  /* ------------------------------------------------------------------ */

  var TITLES = {
    queued: gettext("Accepté (hors ligne, en attente d’envoi)"),
    already_scanned: gettext("Déjà scanné"),
    already_redeemed: gettext("Déjà échangé"),
    offline_limit: gettext("Limite hors ligne atteinte"),
    offline_disabled: gettext("Pas de scan hors ligne"),
    manual_offline: gettext("Code manuel : réseau nécessaire"),
    no_crypto: gettext("Vérification hors ligne impossible"),
    unknown_key: gettext("Vérification hors ligne impossible"),
    not_ready: gettext("Lecteur pas prêt pour travailler hors ligne"),
    invalid_code: gettext("Code abîmé"),
    bad_signature: gettext("Pas un de nos coupons"),
    not_accepted_here: gettext("Non accepté ici"),
    void: gettext("Annulé"),
    expired: gettext("Expiré"),
    not_yet_valid: gettext("Pas encore valide"),
  };

  Scanner.prototype.verdict = function (reason, detail, extra) {
    var verdict = {
      local: true,
      status: reason === "queued" ? "queued" : "rejected",
      reason: reason === "queued" ? "" : reason,
      title: TITLES[reason] || gettext("Refusé"),
      detail: detail,
    };
    return Object.assign(verdict, extra || {});
  };

  Scanner.prototype.canDecideHere = function (text) {
    return Boolean(
      this.config && this.device && global.PCNCoupon && global.PCNCoupon.isQrText(text)
    );
  };

  /* The coupon's code as the server keys it (the manual code inside a QR text), or "". */
  function codeKey(text) {
    var api = global.PCNCoupon;
    if (!api) {
      return "";
    }
    if (api.isQrText(text)) {
      try {
        return api.parse(text).code;
      } catch (e) {
        return "";
      }
    }
    return api.isWellFormedCode(text) ? api.normalize(text) : "";
  }

  /* Before an online scan: the same coupon already waiting in this phone's queue (the server
     does not know of it yet), or null. */
  Scanner.prototype.pendingDuplicate = function (text) {
    var self = this;
    var key = codeKey(text);
    if (!key) {
      return Promise.resolve(null);
    }
    return this.store.byScope("queue", this.scope).then(function (items) {
      var earlier = items.filter(function (item) {
        return item.code_key === key;
      })[0];
      return earlier ? self.alreadyScanned(earlier) : null;
    }, function () {
      return null;
    });
  };

  Scanner.prototype.alreadyScanned = function (item) {
    return this.verdict(
      "already_scanned",
      interpolate(gettext("Déjà scanné par ce téléphone à %(time)s (en attente d’envoi)."), {
        time: this.formats.time(item.scanned_at),
      })
    );
  };

  /* An online scan the server accepted: remembered, so that scanning it again offline is
     refused here rather than sent as a conflict. */
  Scanner.prototype.rememberAccepted = function (text) {
    var key = codeKey(text);
    if (!key) {
      return Promise.resolve();
    }
    return this.remember([{ code_key: key, scanned_at: new Date().toISOString() }], "accepted")
      .catch(function () {});
  };

  Scanner.prototype.remember = function (items, status) {
    var scope = this.scope;
    return this.store.transact(["history"], "readwrite", function (transaction) {
      var history = transaction.objectStore("history");
      items.forEach(function (item) {
        history.put({
          key: scope + "|" + item.code_key,
          scope: scope,
          code_key: item.code_key,
          at: item.scanned_at,
          status: status,
        });
      });
    });
  };

  Scanner.prototype.pruneHistory = function () {
    var scope = this.scope;
    var oldest = new Date(Date.now() - HISTORY_DAYS * 86400000).toISOString();
    return this.store.transact(["history"], "readwrite", function (transaction) {
      var history = transaction.objectStore("history");
      var request = history.index("scope").getAll(scope);
      request.onsuccess = function () {
        (request.result || []).forEach(function (row) {
          if (row.at < oldest) {
            history.delete(row.key);
          }
        });
      };
    });
  };

  /*
   * Decide a scan on this phone. Resolves with a verdict; when it is "queued", the scan is in
   * the queue (committed) before the promise resolves.
   */
  Scanner.prototype.scanHere = function (text, category, clientId) {
    var self = this;
    var api = global.PCNCoupon;
    if (!api || !api.isQrText(text)) {
      return Promise.resolve(this.verdict("manual_offline", gettext(
        "Un code tapé à la main ne peut pas être vérifié hors ligne : scannez le code QR du coupon, ou attendez le retour du réseau."
      )));
    }
    return this.ready.then(function () {
      if (!self.config || !self.device) {
        return self.verdict("not_ready", gettext(
          "Ce téléphone n’a pas encore reçu la configuration du lecteur : ouvrez cette page une première fois avec du réseau."
        ));
      }
      return self.crypto.then(function (supported) {
        if (!supported) {
          return self.verdict("no_crypto", gettext(
            "Ce navigateur ne sait pas vérifier la signature des coupons : attendez le retour du réseau, ou utilisez un navigateur à jour."
          ));
        }
        return api.verify(text, self.config.public_keys).then(function (claims) {
          return self.check(claims, text, category, clientId);
        }, function (error) {
          return self.refusalOf(error);
        });
      });
    });
  };

  Scanner.prototype.refusalOf = function (error) {
    var code = error && error.code;
    if (code === "bad_signature" && error.unknownKey) {
      return this.verdict("unknown_key", gettext(
        "Ce coupon est signé d’une clé que ce téléphone ne connaît pas encore : reconnectez-vous au réseau, puis scannez-le de nouveau."
      ));
    }
    if (code === "bad_signature") {
      return this.verdict("bad_signature", gettext(
        "Ce code QR n’est pas un coupon de nos programmes (signature invalide) : ne l’acceptez pas."
      ));
    }
    if (code === "no_crypto") {
      return this.verdict("no_crypto", gettext(
        "Ce navigateur ne sait pas vérifier la signature des coupons : attendez le retour du réseau, ou utilisez un navigateur à jour."
      ));
    }
    return this.verdict("invalid_code", gettext(
      "Code QR abîmé ou incomplet : scannez-le de nouveau, ou tapez son code manuel une fois le réseau revenu."
    ));
  };

  /* Everything the server would check, in the server's order, then the offline limit. */
  Scanner.prototype.check = function (claims, text, category, clientId) {
    var self = this;
    var config = this.config;
    var program = config.programs.filter(function (p) {
      return p.id === claims.programId;
    })[0];
    var money = this.formats.money(claims.valueCents, program ? program.currency : "CAD");
    var described = { value: money, code: shortCode(claims.code) };
    if (!program) {
      return this.verdict("not_accepted_here", interpolate(
        gettext("Les coupons de ce programme ne sont pas acceptés ici (%(market)s)."),
        { market: config.market.name }
      ));
    }
    if (config.revoked_codes.indexOf(claims.code) >= 0) {
      return this.verdict(
        "void", gettext("Ce coupon a été annulé : il ne peut pas être accepté."), described
      );
    }
    if (category) {
      var accepted = program.categories.filter(function (c) {
        return c.slug === category;
      })[0];
      if (!accepted) {
        var option = document.querySelector('#id_category option[value="' + category + '"]');
        return this.verdict("not_accepted_here", interpolate(
          gettext("La catégorie « %(category)s » n’est pas admissible au programme %(program)s."),
          { category: option ? option.textContent : category, program: program.name }
        ), described);
      }
    }
    var now = new Date();
    var today = localDay(now, config.time_zone);
    if (claims.validUntil < today) {
      return this.verdict("expired", interpolate(
        gettext("Ce coupon est expiré depuis le %(date)s."),
        { date: this.formats.day(claims.validUntil) }
      ), described);
    }
    if (claims.validFrom > today) {
      return this.verdict("not_yet_valid", interpolate(
        gettext("Ce coupon n’est pas encore valide : utilisable à partir du %(date)s."),
        { date: this.formats.day(claims.validFrom) }
      ), described);
    }
    var item = {
      client_id: clientId,
      scope: this.scope,
      code: claims.text,
      code_key: claims.code,
      value: decimalOf(claims.valueCents),
      value_cents: claims.valueCents,
      currency: program.currency,
      program: program.id,
      category: category || null,
      scanned_at: isoWithOffset(now),
      status: "pending",
    };
    var scope = this.scope;
    // The checks against this phone's own scans and the write, in one transaction: two scans
    // of one coupon cannot both pass, nor two scans together go past the limit.
    return this.store.transact(["queue", "history"], "readwrite", function (transaction, out) {
      var queue = transaction.objectStore("queue");
      var seen = transaction.objectStore("history").get(scope + "|" + claims.code);
      seen.onsuccess = function () {
        var list = queue.index("scope").getAll(scope);
        list.onsuccess = function () {
          var verdict = self.againstQueue(item, program, list.result || [], seen.result, described);
          if (verdict.status === "queued") {
            queue.add(item);
          }
          out.value = verdict;
        };
      };
    }).then(function (decided) {
      if (decided.status === "queued") {
        self.pending.push(item);
        self.renderQueue();
      }
      return decided;
    });
  };

  Scanner.prototype.againstQueue = function (item, program, queued, seen, described) {
    var formats = this.formats;
    var same = queued.filter(function (other) {
      return other.code_key === item.code_key;
    })[0];
    if (same) {
      return Object.assign(this.alreadyScanned(same), described);
    }
    if (seen) {
      return this.verdict("already_redeemed", interpolate(
        gettext("Déjà échangé par ce téléphone à %(time)s."), { time: formats.time(seen.at) }
      ), described);
    }
    var ofProgram = queued.filter(function (other) {
      return other.program === program.id;
    });
    var count = ofProgram.length;
    var value = ofProgram.reduce(function (sum, other) {
      return sum + other.value_cents;
    }, 0);
    if (program.offline_max_count <= 0) {
      return this.verdict("offline_disabled", interpolate(
        gettext("Le programme %(program)s n’accepte pas de coupons hors ligne : attendez le retour du réseau."),
        { program: program.name }
      ), described);
    }
    if (count + 1 > program.offline_max_count ||
        value + item.value_cents > cents(program.offline_max_value)) {
      return this.verdict("offline_limit", interpolate(
        gettext("Limite atteinte : %(count)s coupons (%(value)s) du programme %(program)s attendent déjà sur ce téléphone, au plus %(max_count)s coupons ou %(max_value)s. Reconnectez-vous au réseau pour les envoyer."),
        {
          count: count,
          value: formats.money(value, program.currency),
          program: program.name,
          max_count: program.offline_max_count,
          max_value: formats.money(cents(program.offline_max_value), program.currency),
        }
      ), described);
    }
    return this.verdict("queued", interpolate(
      gettext("Coupon de %(value)s accepté sur ce téléphone. Remettez les produits : il sera envoyé dès le retour du réseau."),
      { value: described.value }
    ), described);
  };

  /* ------------------------------------------------------------------ */
  /* Queue and sync                                                      */
  /* ------------------------------------------------------------------ */

  Scanner.prototype.loadQueue = function () {
    var self = this;
    return this.store.byScope("queue", this.scope).then(function (items) {
      self.pending = items.sort(function (a, b) {
        return a.scanned_at < b.scanned_at ? -1 : 1;
      });
      self.renderQueue();
    });
  };

  function cell(row, text, className) {
    var td = document.createElement("td");
    td.textContent = text;
    if (className) {
      td.className = className;
    }
    row.appendChild(td);
    return td;
  }

  function badge(text, kind) {
    var span = document.createElement("span");
    span.className = "badge" + (kind ? " badge--" + kind : "");
    span.textContent = text;
    return span;
  }

  Scanner.prototype.renderQueue = function () {
    var self = this;
    var el = this.el;
    if (!el.queue) {
      return;
    }
    el.queue.hidden = this.pending.length === 0;
    if (el.queueCount) {
      el.queueCount.textContent = String(this.pending.length);
    }
    if (el.queueRows) {
      el.queueRows.replaceChildren.apply(el.queueRows, this.pending.map(function (item) {
        var row = document.createElement("tr");
        row.setAttribute("data-client-id", item.client_id);
        cell(row, self.formats.time(item.scanned_at));
        cell(row, self.formats.money(item.value_cents, item.currency), "num");
        cell(row, shortCode(item.code_key), "scanner__code");
        cell(row, "").appendChild(badge(
          self.syncing ? gettext("Envoi…") : gettext("En attente"), "warn"
        ));
        return row;
      }));
    }
    if (el.syncButton) {
      el.syncButton.disabled = Boolean(this.syncing);
    }
  };

  Scanner.prototype.setSyncStatus = function (text) {
    if (this.el.syncStatus) {
      this.el.syncStatus.textContent = text;
    }
  };

  /* Send the queue; resolves once the server's answers are recorded (or the attempt failed). */
  Scanner.prototype.sync = function () {
    var self = this;
    if (this.syncing) {
      return this.syncing;
    }
    if (!this.pending.length || !this.device || !this.device.token || !this.urls.batch) {
      if (this.pending.length && this.device && this.device.revoked) {
        this.showDevice();
      }
      return Promise.resolve();
    }
    var items = this.pending.slice(0, MAX_BATCH);
    var answered = false;
    this.syncing = this.sendBatch(items)
      .then(function (results) {
        if (!results) {
          return null;
        }
        return self.recordResults(items, results).then(function (count) {
          answered = count > 0;
        });
      })
      .catch(function () {
        self.setSyncStatus(gettext(
          "Envoi impossible pour le moment : les coupons restent en attente et seront renvoyés automatiquement."
        ));
      })
      .finally(function () {
        self.syncing = null;
        self.renderQueue();
        // More than one batch waited: send the next one now.
        if (answered && self.pending.length) {
          self.sync();
        }
      });
    this.renderQueue();
    return this.syncing;
  };

  function body(item) {
    return {
      code: item.code,
      client_id: item.client_id,
      category: item.category || undefined,
      scanned_at: item.scanned_at,
      offline: true,
    };
  }

  Scanner.prototype.sendBatch = function (items) {
    var self = this;
    var headers = Object.assign({ "Content-Type": "application/json" }, this.authHeaders());
    return timedFetch(this.urls.batch, {
      method: "POST",
      headers: headers,
      body: JSON.stringify({ items: items.map(body) }),
    }).then(function (response) {
      if (response.status === 401) {
        return self.forgetToken().then(function () {
          return null;
        });
      }
      if (response.status === 422) {
        // One item the server cannot read (too old, say) refuses the whole batch: send them
        // one by one, so that the others go through.
        return self.sendOneByOne(items);
      }
      if (!response.ok) {
        throw new Error("sync failed: " + response.status);
      }
      return response.json().then(function (answer) {
        return answer.results;
      });
    });
  };

  Scanner.prototype.sendOneByOne = function (items) {
    var self = this;
    var results = [];
    var headers = Object.assign({ "Content-Type": "application/json" }, this.authHeaders());
    return items.reduce(function (previous, item) {
      return previous.then(function () {
        return timedFetch(self.urls.redeem, {
          method: "POST", headers: headers, body: JSON.stringify(body(item)),
        }).then(function (response) {
          if (response.status === 401 || response.status >= 500) {
            throw new Error("sync failed: " + response.status);
          }
          return response.json().then(function (answer) {
            answer.client_id = item.client_id;
            answer.http_status = response.status;
            results.push(answer);
          });
        });
      });
    }, Promise.resolve()).then(function () {
      return results;
    }, function (error) {
      if (results.length) {
        return results;
      }
      throw error;
    });
  };

  /* The server answered for these items: out of the queue, into the last sync's results. */
  Scanner.prototype.recordResults = function (items, results) {
    var self = this;
    var byId = {};
    items.forEach(function (item) {
      byId[item.client_id] = item;
    });
    var answered = [];
    results.forEach(function (result) {
      var item = byId[result.client_id];
      if (item) {
        answered.push({
          client_id: item.client_id,
          code_key: item.code_key,
          value_cents: item.value_cents,
          currency: item.currency,
          scanned_at: item.scanned_at,
          status: result.status,
          reason: result.reason || "",
          detail: result.detail || "",
        });
      }
    });
    var record = { scope: this.scope, at: new Date().toISOString(), items: answered };
    var scope = this.scope;
    return this.store.transact(["queue", "history", "results"], "readwrite", function (t) {
      var queue = t.objectStore("queue");
      var history = t.objectStore("history");
      answered.forEach(function (answer) {
        queue.delete(answer.client_id);
        if (answer.status === "accepted" || answer.status === "conflict") {
          history.put({
            key: scope + "|" + answer.code_key,
            scope: scope,
            code_key: answer.code_key,
            at: answer.scanned_at,
            status: answer.status,
          });
        }
      });
      t.objectStore("results").put(record);
    }).then(function () {
      var done = {};
      answered.forEach(function (answer) {
        done[answer.client_id] = true;
      });
      self.pending = self.pending.filter(function (item) {
        return !done[item.client_id];
      });
      self.setSyncStatus("");
      self.renderResults(record);
      if (answered.some(function (answer) {
        return answer.status !== "rejected";
      })) {
        self.refreshToday();
      }
      return answered.length;
    });
  };

  /* The day's totals on the page now count the synced scans: read them again from the page. */
  Scanner.prototype.refreshToday = function () {
    var current = this.root.querySelector("[data-today-summary]");
    if (!current || typeof DOMParser !== "function") {
      return Promise.resolve();
    }
    return timedFetch(global.location.pathname, { headers: { Accept: "text/html" } })
      .then(function (response) {
        if (!response.ok || response.redirected) {
          return;
        }
        return response.text().then(function (html) {
          // A parsed document runs no script; only the totals paragraph is taken from it.
          var fresh = new DOMParser().parseFromString(html, "text/html")
            .querySelector("[data-today-summary]");
          if (fresh) {
            current.replaceWith(document.importNode(fresh, true));
          }
        });
      })
      .catch(function () {});
  };

  var OUTCOMES = {
    accepted: { label: gettext("Accepté"), kind: "ok" },
    conflict: { label: gettext("À examiner"), kind: "warn" },
    rejected: { label: gettext("Refusé"), kind: "danger" },
  };

  Scanner.prototype.renderResults = function (record) {
    var self = this;
    var el = this.el;
    if (!el.results || !record || !record.items || !record.items.length) {
      return;
    }
    var counts = { accepted: 0, conflict: 0, rejected: 0 };
    record.items.forEach(function (answer) {
      counts[answer.status in counts ? answer.status : "rejected"] += 1;
    });
    el.results.hidden = false;
    if (el.resultsSummary) {
      el.resultsSummary.textContent = interpolate(
        gettext("Envoi de %(time)s — acceptés : %(accepted)s · à examiner : %(conflict)s · refusés : %(rejected)s."),
        {
          time: this.formats.time(record.at),
          accepted: counts.accepted,
          conflict: counts.conflict,
          rejected: counts.rejected,
        }
      );
    }
    if (el.resultsRows) {
      el.resultsRows.replaceChildren.apply(el.resultsRows, record.items.map(function (answer) {
        var outcome = OUTCOMES[answer.status] || OUTCOMES.rejected;
        var row = document.createElement("tr");
        row.setAttribute("data-client-id", answer.client_id);
        row.setAttribute("data-status", answer.status);
        row.setAttribute("data-reason", answer.reason || "");
        cell(row, self.formats.time(answer.scanned_at));
        cell(row, self.formats.money(answer.value_cents, answer.currency), "num");
        cell(row, shortCode(answer.code_key), "scanner__code");
        var result = cell(row, "");
        result.appendChild(badge(outcome.label, outcome.kind));
        if (answer.status !== "accepted" && answer.detail) {
          var detail = document.createElement("span");
          detail.className = "scanner__result-detail";
          detail.textContent = answer.detail;
          result.appendChild(detail);
        }
        return row;
      }));
    }
  };

  /* ------------------------------------------------------------------ */
  /* Service worker                                                      */
  /* ------------------------------------------------------------------ */

  Scanner.prototype.registerServiceWorker = function () {
    var url = this.urls.sw;
    var fromCache = this.fromCache;
    if (!url || !("serviceWorker" in global.navigator)) {
      return;
    }
    global.navigator.serviceWorker.register(url).then(function () {
      return global.navigator.serviceWorker.ready;
    }).then(function (registration) {
      if (registration.active && online() && !fromCache) {
        registration.active.postMessage({ save: global.location.href });
      }
    }).catch(function () {
      /* No worker (private browsing, old browser): the page still works online. */
    });
  };

  global.PCNScannerOffline = {
    start: function (root) {
      if (!root || !root.getAttribute("data-config-url") || !global.indexedDB ||
          !global.PCNCoupon) {
        return null;
      }
      return new Scanner(root).start();
    },
  };
})(window);
