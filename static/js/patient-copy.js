/* "Copy" buttons next to read-only links (progressive enhancement: hidden without JS,
   where the link can still be selected and copied by hand). */
(function () {
  "use strict";
  var status = document.getElementById("copy-status");
  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    var input = document.getElementById(button.dataset.copy);
    if (!input) { return; }
    button.hidden = false;
    var original = button.textContent;
    button.addEventListener("click", function () {
      function done(ok) {
        button.textContent = ok ? "Copied" : original;
        if (status) { status.textContent = ok ? "Link copied." : "Select the link and copy it by hand."; }
        window.setTimeout(function () { button.textContent = original; }, 2500);
      }
      input.select();
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(input.value).then(function () { done(true); }, function () {
          done(document.execCommand && document.execCommand("copy"));
        });
      } else {
        done(document.execCommand && document.execCommand("copy"));
      }
    });
  });
  document.querySelectorAll("input[readonly][id^='link-']").forEach(function (input) {
    input.addEventListener("focus", function () { input.select(); });
  });
})();
