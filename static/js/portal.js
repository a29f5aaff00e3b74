/* Portal pages: a form with data-confirm asks before it is sent (no inline handlers: the
   Content-Security-Policy allows scripts from /static/ only). */
(function () {
  "use strict";
  // A page that comes back with a list of problems puts the keyboard and the screen reader
  // on that list first (its links lead to each field).
  document.addEventListener("DOMContentLoaded", function () {
    var summary = document.querySelector(".error-summary[tabindex='-1']");
    if (summary) {
      summary.focus();
    }
  });
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form instanceof HTMLFormElement && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
    }
  });
})();
