/* Bulletin compose screen: autosave of the draft, the full subject with the list's prefix,
   a confirm step for sending, and "save first" before an action button acts.
   Plain JS, no build step. Without JS the form still saves with its own buttons. */
(function () {
  "use strict";

  function confirmForms() {
    document.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (form.dataset.confirmed === "1") return;
        if (!window.confirm(form.dataset.confirm)) event.preventDefault();
      });
    });
  }

  function setup() {
    confirmForms();
    var form = document.getElementById("bulletin-compose");
    if (!form) return;
    var status = document.getElementById("autosave-status");
    var restore = document.getElementById("autosave-restore");
    var subject = form.querySelector("[name=subject]");
    var list = form.querySelector("[name=mailing_list]");
    var full = document.getElementById("full-subject");
    var prefixes = JSON.parse(document.getElementById("list-prefixes").textContent || "{}");
    var dirty = false;
    var saving = null;
    var pending = false; // edited while a save was on its way
    var refused = false; // what the form shows was refused by the server
    var submitting = false;
    var timer = null;
    var storageKey = "renkei-bulletin-" + (form.dataset.bulletin || "new");

    function showSubject() {
      if (!full || !subject || !list) return;
      full.textContent = (prefixes[list.value] || "") + subject.value;
    }

    function values() {
      var data = {};
      ["mailing_list", "subject", "body", "reply_to"].forEach(function (name) {
        var field = form.querySelector("[name=" + name + "]");
        if (field) data[name] = field.value;
      });
      return data;
    }

    function keepLocally() {
      try {
        window.localStorage.setItem(storageKey, JSON.stringify(values()));
      } catch (e) { /* storage full or disabled: the server copy is all we have */ }
    }

    function forgetLocally() {
      try { window.localStorage.removeItem(storageKey); } catch (e) { /* ignore */ }
    }

    function say(text, isError) {
      if (!status) return;
      status.textContent = text;
      status.classList.toggle("errornote", !!isError);
    }

    function save() {
      if (saving) return saving;
      if (!list || !list.value) {
        keepLocally();
        return Promise.resolve(false);
      }
      var body = new FormData(form);
      dirty = false;
      say(form.dataset.msgSaving);
      saving = fetch(form.dataset.autosaveUrl, {
        method: "POST",
        body: body,
        credentials: "same-origin",
        headers: { "X-Requested-With": "XMLHttpRequest" }
      }).then(function (response) {
        return response.json().then(function (data) {
          if (!response.ok || !data.saved) {
            // Refused (a bad placeholder, or sending started): try again after the next edit,
            // not in a loop. The browser keeps the copy meanwhile.
            keepLocally();
            refused = true;
            var errors = [];
            Object.keys(data.errors || {}).forEach(function (k) {
              errors = errors.concat(data.errors[k]);
            });
            say(form.dataset.msgRefused + " " + errors.join(" "), true);
            return false;
          }
          forgetLocally();
          refused = false;
          if (!form.dataset.bulletin) {
            form.dataset.bulletin = String(data.id);
            form.dataset.autosaveUrl = data.autosave_url;
            form.action = data.change_url;
            storageKey = "renkei-bulletin-" + data.id;
            window.history.replaceState(null, "", data.change_url);
          }
          say(form.dataset.msgSaved.replace("%s", data.saved_at));
          return true;
        });
      }).catch(function () {
        dirty = true;
        keepLocally();
        say(form.dataset.msgOffline, true);
        return false;
      }).finally(function () {
        saving = null;
        if (pending && !submitting) {
          pending = false;
          save();
        }
      });
      return saving;
    }

    function changed() {
      dirty = true;
      if (saving) pending = true;
      showSubject();
      keepLocally();
      if (timer) window.clearTimeout(timer);
      timer = window.setTimeout(function () { if (dirty && !submitting) save(); }, 2000);
    }

    form.addEventListener("input", changed);
    form.addEventListener("change", function () {
      changed();
      if (!submitting) save();
    });
    form.addEventListener("submit", function (event) {
      if (saving) {
        // The first autosave may be creating the draft: submit to it once it has answered.
        event.preventDefault();
        var submitter = event.submitter;
        saving.then(function () { form.requestSubmit(submitter); });
        return;
      }
      submitting = true;
      forgetLocally();
    });
    window.setInterval(function () { if (dirty && !submitting) save(); }, 5000);
    window.addEventListener("pagehide", function () {
      if (dirty && !submitting && list && list.value && navigator.sendBeacon) {
        navigator.sendBeacon(form.dataset.autosaveUrl, new FormData(form));
      }
    });

    // Action buttons (test, send, schedule) act on the saved draft: save pending edits first.
    document.querySelectorAll("form.after-save").forEach(function (actionForm) {
      actionForm.addEventListener("submit", function (event) {
        if (!dirty && !saving && !refused) return;
        event.preventDefault();
        Promise.resolve(saving).then(function () {
          return dirty || refused ? save() : true;
        }).then(function (ok) {
          if (ok !== false) {
            actionForm.dataset.confirmed = "1";
            actionForm.submit();
          } else if (status) {
            // Never act on an older copy than the one on screen: the status line says why.
            status.setAttribute("tabindex", "-1");
            status.focus();
          }
        });
      });
    });

    // A copy kept in this browser that the server never got (offline, refused): offer it back.
    try {
      var kept = JSON.parse(window.localStorage.getItem(storageKey) || "null");
      var now = values();
      if (kept && restore && JSON.stringify(kept) !== JSON.stringify(now)) {
        restore.hidden = false;
        restore.querySelector("button").addEventListener("click", function () {
          Object.keys(kept).forEach(function (name) {
            var field = form.querySelector("[name=" + name + "]");
            if (field) field.value = kept[name];
          });
          restore.hidden = true;
          changed();
        });
      }
    } catch (e) { /* ignore a broken copy */ }
    showSubject();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", setup);
  else setup();
})();
