/* The digital wallet, in the household's browser and on the staff's page.

   Wallet page (body[data-wallet-sw]): register the service worker that keeps the page readable
   offline, ask it to save this page now, and show the "offline" notice when the network is
   gone or the page is the copy saved earlier.
   Staff page: the "copy the link" buttons (button[data-copy] names the input to copy). */
(function () {
  "use strict";

  var body = document.body;
  var swUrl = body.getAttribute("data-wallet-sw");

  if (swUrl && "serviceWorker" in navigator) {
    navigator.serviceWorker.register(swUrl).then(function () {
      return navigator.serviceWorker.ready;
    }).then(function (registration) {
      if (registration.active && navigator.onLine) {
        registration.active.postMessage({ save: window.location.href });
      }
    }).catch(function () {
      // No worker (private browsing, old browser): the page still works online.
    });
  }

  var notice = document.querySelector("[data-offline-notice]");
  function showNetworkState() {
    if (!notice) {
      return;
    }
    var saved = body.getAttribute("data-wallet-source") === "cache";
    notice.hidden = navigator.onLine && !saved;
  }
  window.addEventListener("online", showNetworkState);
  window.addEventListener("offline", showNetworkState);
  showNetworkState();

  function copied(button) {
    var label = button.getAttribute("data-copied-label");
    if (label) {
      button.textContent = label;
    }
  }
  Array.prototype.forEach.call(document.querySelectorAll("button[data-copy]"), function (button) {
    button.addEventListener("click", function () {
      var input = document.getElementById(button.getAttribute("data-copy"));
      if (!input) {
        return;
      }
      input.select();
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(input.value).then(function () { copied(button); },
          function () { document.execCommand("copy"); copied(button); });
      } else {
        document.execCommand("copy");
        copied(button);
      }
    });
  });
})();
