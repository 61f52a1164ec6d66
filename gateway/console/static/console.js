/* Dalil staff console: small progressive enhancements. Every page works without this file; it adds live
 * counters, progress polling and the phone simulator. No inline scripts (the Content-Security-Policy forbids them). */
(function () {
  "use strict";
  var S = window.DalilSegments;
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  var lang = document.documentElement.lang || "en";
  var numberFormat = new Intl.NumberFormat(lang === "ar" ? "ar-TN" : lang === "fr" ? "fr-TN" : "en", { useGrouping: true });
  function num(n) { return numberFormat.format(n); }
  /* a value inside a sentence, isolated so that "UCS-2" or a number keeps its place in right-to-left text */
  function iso(value) { return "\u2068" + value + "\u2069"; }
  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (m, k) { return k in values ? values[k] : m; });
  }
  /* n things in the page's language: the catalog's plural forms (from babel, on the server) picked by the same
   * CLDR rules in the browser (Arabic has six forms: zero, one, two, few, many, other) */
  var pluralRules = new Intl.PluralRules(lang === "ar" ? "ar-TN" : lang === "fr" ? "fr-TN" : "en");
  function plural(formsJSON, n) {
    var forms = JSON.parse(formsJSON || "{}");
    return fill(forms[pluralRules.select(n)] || forms.other || "{n}", { n: iso(num(n)) });
  }

  function postJSON(url, body) {
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body || {})
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (data) { data._status = r.status; return data; });
    });
  }
  window.DalilConsole = { postJSON: postJSON, num: num, fill: fill };

  /* confirmations on destructive forms */
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (e) {
      if (!window.confirm(form.getAttribute("data-confirm"))) e.preventDefault();
    });
  });

  /* short names: characters left */
  document.querySelectorAll("input[data-count]").forEach(function (input) {
    var max = parseInt(input.getAttribute("data-count"), 10);
    var out = document.createElement("span");
    out.className = "counter";
    out.setAttribute("aria-live", "polite");
    input.insertAdjacentElement("afterend", out);
    function update() {
      var n = Array.from(input.value).length;
      out.textContent = num(n) + " / " + num(max);
      out.classList.toggle("over", n > max);
    }
    input.addEventListener("input", update);
    update();
  });

  /* flow texts: the USSD screen budget, live */
  document.querySelectorAll("textarea[data-budget]").forEach(function (area) {
    var meter = document.getElementById(area.getAttribute("aria-describedby"));
    var preview = document.getElementById("preview-" + area.lang);
    var gsm = parseInt(area.dataset.gsm, 10), ucs = parseInt(area.dataset.ucs, 10);
    function update() {
      var text = area.value;
      if (area.dataset.header === "1") text = text.replace(/\{\w+\}/g, area.dataset.sample);
      var own = S.screenLength(text);
      var ownBudget = own.encoding === "GSM-7" ? gsm : ucs;
      var parts = [fill(meter.dataset.labelText, { units: iso(num(own.units)), budget: iso(num(ownBudget)),
                                                    encoding: iso(own.encoding) })];
      var cls = own.units > ownBudget ? "over" : "fits";
      if (area.dataset.before !== undefined) {
        var page = area.dataset.before + text + area.dataset.after;
        var whole = S.screenLength(page);
        var budget = whole.encoding === "GSM-7" ? gsm : ucs;
        var label = whole.units <= budget ? meter.dataset.labelFits
          : (area.dataset.end === "1" ? meter.dataset.labelOver : meter.dataset.labelPages);
        parts.push(fill(label, { units: iso(num(whole.units)), budget: iso(num(budget)), encoding: iso(whole.encoding) }));
        if (whole.units > budget) cls = area.dataset.end === "1" ? "over" : (cls === "over" ? "over" : "pages");
        if (area.dataset.dynamic === "1") parts.push(meter.dataset.labelDynamic);
        if (preview) preview.textContent = page;
      }
      meter.textContent = parts.join(" · ");
      meter.className = "meter " + cls;
    }
    area.addEventListener("input", update);
    update();
  });

  /* locations: only the chosen governorate's delegations */
  var gov = document.getElementById("f-governorate"), deleg = document.getElementById("f-delegation");
  if (gov && deleg) {
    var filter = function () {
      deleg.querySelectorAll("optgroup").forEach(function (group) {
        var show = group.dataset.governorate === gov.value;
        group.hidden = !show;
        group.disabled = !show;
        if (!show && group.contains(deleg.selectedOptions[0])) deleg.value = "";
      });
    };
    gov.addEventListener("change", filter);
    filter();
  }

  /* long work: poll the job until it ends, then show its result */
  var job = document.getElementById("job");
  if (job && job.dataset.state === "running") {
    var bar = document.getElementById("job-bar"), step = document.getElementById("job-step");
    var poll = function () {
      fetch(job.dataset.progress, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (r) { return r.json(); })
        .then(function (data) {
          bar.value = data.percent;
          bar.parentElement.setAttribute("aria-valuenow", data.percent);
          step.textContent = data.step;
          if (data.state === "running") window.setTimeout(poll, 400);
          else window.location.reload();
        })
        .catch(function () { window.setTimeout(poll, 1500); });
    };
    window.setTimeout(poll, 200);
  }

  /* campaigns: characters, encoding and segments of each text, live */
  document.querySelectorAll("textarea[data-segments]").forEach(function (area) {
    var meter = document.getElementById(area.getAttribute("aria-describedby"));
    var max = parseInt(area.dataset.max, 10);
    function update() {
      var text = area.value.trim();
      if (!text) { meter.textContent = ""; return; }
      var c = S.count(text);
      var parts = [fill(meter.dataset.label, { characters: plural(meter.dataset.formsCharacters, c.characters),
                                                encoding: iso(c.encoding), max: iso(num(max)),
                                                segments: plural(meter.dataset.formsSegments, c.segments) })];
      var forced = area.lang !== "ar" && c.encoding === "UCS-2" ? S.nonGsm7(text) : [];
      if (forced.length) parts.push(fill(meter.dataset.labelForced, { chars: forced.slice(0, 8).join(" ") }));
      if (c.segments > max) parts.push(fill(meter.dataset.labelOver, { max: num(max) }));
      meter.textContent = parts.join(" · ");
      meter.className = "seg-meter" + (c.encoding === "UCS-2" ? " enc-ucs" : "") + (c.segments > max ? " over" : "");
      meter.dataset.encoding = c.encoding;
      meter.dataset.segments = c.segments;
    }
    area.addEventListener("input", update);
    update();
  });

  var campaignForm = document.getElementById("campaign-form");
  if (campaignForm) {
    var live = document.getElementById("audience-live");
    var timer = null;
    var askAudience = function () {
      var data = new FormData();
      ["governorates", "delegations", "interests", "languages"].forEach(function (name) {
        campaignForm.querySelectorAll('[name="' + name + '"]').forEach(function (el) {
          if (el.tagName === "SELECT") Array.from(el.selectedOptions).forEach(function (o) { data.append(name, o.value); });
          else if (el.checked) data.append(name, el.value);
        });
      });
      var since = campaignForm.querySelector('[name="active_since"]');
      if (since && since.value) data.append("active_since", since.value);
      fetch(campaignForm.dataset.audience, { method: "POST", body: data, credentials: "same-origin",
                                              headers: { "X-CSRF-Token": csrf, "Accept": "application/json" } })
        .then(function (r) { return r.json(); })
        .then(function (d) { live.textContent = d.text || d.error || ""; })
        .catch(function () { live.textContent = ""; });
    };
    campaignForm.addEventListener("change", function (e) {
      if (e.target.name === "schedule") return showSchedule();
      if (["governorates", "delegations", "interests", "languages", "active_since"].indexOf(e.target.name) >= 0) {
        window.clearTimeout(timer);
        timer = window.setTimeout(askAudience, 250);
      }
    });
    var showSchedule = function () {
      var chosen = (campaignForm.querySelector('[name="schedule"]:checked') || {}).value || "now";
      var at = document.getElementById("f-send_at"), cron = document.getElementById("f-cron");
      if (at) at.closest(".field").hidden = chosen !== "at";
      if (cron) cron.closest(".field").hidden = chosen !== "cron";
    };
    showSchedule();
    askAudience();
  }

  /* a campaign being sent: follow its results */
  var results = document.getElementById("campaign-results");
  if (results && results.dataset.live === "1") {
    var followResults = function () {
      fetch(results.dataset.results, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (r) { return r.json(); })
        .then(function (d) {
          var bar = document.getElementById("results-bar");
          bar.max = d.total || 1;
          bar.value = d.done;
          results.querySelectorAll("td[data-key]").forEach(function (td) { td.textContent = num(d[td.dataset.key] || 0); });
          if (d.queued || d.sending) window.setTimeout(followResults, 3000);
        })
        .catch(function () { window.setTimeout(followResults, 10000); });
    };
    window.setTimeout(followResults, 1500);
  }

  /* the phone simulator */
  var phone = document.getElementById("phone");
  if (phone) {
    var screen = document.getElementById("sim-screen"), meterEl = document.getElementById("sim-meter");
    var answer = document.getElementById("sim-answer"), send = document.getElementById("sim-send");
    var dial = document.getElementById("sim-dial"), hangup = document.getElementById("sim-hangup");
    var typed = document.getElementById("sim-typed"), smsList = document.getElementById("sim-sms");
    var number = document.getElementById("sim-phone"), error = document.getElementById("sim-error");
    var keys = phone.querySelectorAll(".key");
    var state = { session: "", inputs: [], live: false };
    var NUMBER = /\+?\d(?:[\d\u00a0 :.,\/+\-]*\d)?/g;

    /* Text with every number in an isolated left-to-right <bdi>, so a phone number or a time keeps its order
       inside an Arabic screen whatever the browser's bidi does around it. DOM nodes only, never innerHTML. */
    function showText(el, text) {
      el.textContent = "";
      var last = 0;
      text.replace(NUMBER, function (match, offset) {
        el.appendChild(document.createTextNode(text.slice(last, offset)));
        var bdi = document.createElement("bdi");
        bdi.dir = "ltr";
        bdi.textContent = match;
        el.appendChild(bdi);
        last = offset + match.length;
        return match;
      });
      el.appendChild(document.createTextNode(text.slice(last)));
    }
    function mode() { return document.querySelector('input[name="sim-mode"]:checked').value; }
    function addSms(list) {
      (list || []).forEach(function (body) {
        if (smsList.querySelector(".muted")) smsList.innerHTML = "";
        var li = document.createElement("li");
        showText(li, body);
        li.dir = "auto";
        smsList.appendChild(li);
      });
    }

    function setLive(live) {
      state.live = live;
      answer.disabled = send.disabled = hangup.disabled = !live;
      keys.forEach(function (k) { k.disabled = !live; });
      dial.disabled = live;
      number.disabled = live;
      phone.classList.toggle("live", live);
      if (live) answer.focus();
    }
    function showError(text) { error.textContent = text || ""; error.hidden = !text; }
    function hop() {
      showError("");
      var text = state.inputs.join("*");
      typed.textContent = text || "—";
      return postJSON(phone.dataset.hop, { phone: number.value, text: text, session: state.session }).then(function (data) {
        if (data._status !== 200) {
          showError(data.error || phone.dataset.labelError);
          setLive(false);
          return;
        }
        state.session = data.session;
        showText(screen, data.text);
        meterEl.textContent = num(data.units) + " / " + num(data.limit) + " " + data.encoding;
        meterEl.className = "meter " + (data.units > data.limit ? "over" : "fits");
        addSms(data.sms);
        if (data.end) {
          showText(screen, data.text + "\n\n— " + phone.dataset.labelEnded + " —");
          state.session = "";
          setLive(false);
        }
      }).catch(function () { showError(phone.dataset.labelError); setLive(false); });
    }
    function text(message) {
      showError("");
      typed.textContent = message;
      return postJSON(phone.dataset.sms, { phone: number.value, text: message }).then(function (data) {
        if (data._status !== 200) { showError(data.error || phone.dataset.labelError); return; }
        showText(screen, data.text);
        meterEl.textContent = num(data.units) + " " + data.encoding + ", " + num(data.segments) + " SMS";
        meterEl.className = "meter fits";
        addSms(data.sms);
      }).catch(function () { showError(phone.dataset.labelError); });
    }
    dial.addEventListener("click", function () {
      state = { session: "", inputs: [], live: false };
      setLive(true);
      if (mode() === "sms") { screen.textContent = ""; answer.inputMode = "text"; return; }
      answer.inputMode = "numeric";
      hop();
    });
    hangup.addEventListener("click", function () {
      if (state.session) postJSON(phone.dataset.hangup, { session: state.session });
      state.session = "";
      screen.textContent = phone.dataset.labelEnded;
      setLive(false);
    });
    document.getElementById("sim-form").addEventListener("submit", function (e) {
      e.preventDefault();
      if (!state.live || answer.value === "") return;
      if (mode() === "sms") { text(answer.value); answer.value = ""; return; }
      state.inputs.push(answer.value);
      answer.value = "";
      hop();
    });
    keys.forEach(function (k) {
      k.addEventListener("click", function () { answer.value += k.dataset.key; answer.focus(); });
    });
  }
})();
