/* Live progress of a bulletin: polls the JSON endpoint every 1.5 s while it sends, moves the
   bar and the counts, and reloads the page once it has finished (to show the report) or its
   state changed (paused for real, stopped by an error). */
(function () {
  "use strict";

  function setup() {
    var box = document.getElementById("bulletin-progress");
    if (!box) return;
    var startedFinished = box.dataset.finished === "1";
    var initialStatus = box.dataset.status;

    function draw(data) {
      var total = data.total || 0;
      ["sent", "failed", "skipped", "cancelled"].forEach(function (part) {
        var el = box.querySelector("[data-part=" + part + "]");
        if (el) el.style.width = (total ? (100 * data[part]) / total : 0) + "%";
      });
      Object.keys(data).forEach(function (key) {
        var el = box.querySelector("[data-field=" + key + "]");
        if (el && typeof data[key] !== "object") el.textContent = data[key];
      });
      var preparing = box.querySelector("[data-field=preparing]");
      if (preparing) preparing.hidden = !!data.snapshot;
      box.dataset.status = data.status;
      box.dataset.finished = data.finished ? "1" : "0";
    }

    function poll() {
      fetch(box.dataset.url, { credentials: "same-origin" })
        .then(function (response) { return response.json(); })
        .then(function (data) {
          draw(data);
          if (data.finished || data.status !== initialStatus) {
            // Finished, paused for real, stopped: the page shows other actions then.
            if (!startedFinished) window.location.reload();
            return;
          }
          if (data.status !== "draft") window.setTimeout(poll, 1500);
        })
        .catch(function () { window.setTimeout(poll, 5000); });
    }

    function count(name) {
      var el = box.querySelector("[data-field=" + name + "]");
      return el ? +el.textContent : 0;
    }
    draw({
      total: count("total"),
      sent: count("sent"),
      failed: count("failed"),
      skipped: count("skipped"),
      cancelled: count("cancelled"),
      status: box.dataset.status,
      finished: startedFinished,
      snapshot: !box.querySelector("[data-field=preparing]")
    });
    if (!startedFinished && box.dataset.status !== "draft") poll();
  }

  /* The last test send's outcome, polled until the worker has written it. */
  function setupTest() {
    var line = document.getElementById("test-result");
    if (!line || line.dataset.state !== "sending") return;
    function poll() {
      fetch(line.dataset.url, { credentials: "same-origin" })
        .then(function (response) { return response.json(); })
        .then(function (data) {
          line.textContent = data.test_label;
          line.dataset.state = data.test_state;
          line.classList.toggle("errornote", data.test_state === "failed");
          if (data.test_state === "sending") window.setTimeout(poll, 1500);
        })
        .catch(function () { window.setTimeout(poll, 5000); });
    }
    window.setTimeout(poll, 1000);
  }

  function start() { setup(); setupTest(); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
