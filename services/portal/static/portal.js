// Progressive enhancement only: every page works without this file.
// A form's submit buttons are disabled once it is sent, so a double click sends it once
// (the server also acts on each form once, whatever the browser does).
document.addEventListener("submit", function (event) {
  var form = event.target;
  if (form.dataset.sent === "1") { event.preventDefault(); return; }
  form.dataset.sent = "1";
  setTimeout(function () {
    form.querySelectorAll("button[type=submit]").forEach(function (b) { b.disabled = true; });
  }, 0);
});
