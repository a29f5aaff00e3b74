/* The home page's sending bulletins: poll each one's progress (the bulletin page's own JSON
   endpoint) every 2 s and write "sent / total" in its row, until it has finished. */
(function () {
  "use strict";

  function follow(cell) {
    function poll() {
      fetch(cell.dataset.progressUrl, { credentials: "same-origin" })
        .then(function (response) { return response.json(); })
        .then(function (data) {
          var link = cell.querySelector("a");
          var text = data.sent + " / " + data.total + "（" + data.status_label +
            (data.failed ? "、失敗 " + data.failed : "") + "）";
          if (link) link.textContent = text; else cell.textContent = text;
          if (!data.finished && data.status === "sending") window.setTimeout(poll, 2000);
        })
        .catch(function () { window.setTimeout(poll, 5000); });
    }
    poll();
  }

  function setup() {
    document.querySelectorAll("[data-progress-url]").forEach(follow);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", setup);
  else setup();
})();
