// Live wave progress: every element with data-job-events subscribes to its job's
// Server-Sent Events and shows the percent; the page reloads once the job is done.
(function () {
  function watch(el) {
    if (el.getAttribute("data-watching")) { return; }
    el.setAttribute("data-watching", "true");
    var source = new EventSource(el.getAttribute("data-job-events"));
    var bar = el.querySelector("progress");
    var label = el.querySelector(".percent");
    var state = el.querySelector(".state");
    function show(job) {
      bar.value = job.percent;
      label.textContent = job.percent.toFixed(0) + "%";
      state.textContent = job.state + (job.milestone ? " (" + job.milestone + ")" : "");
      if (job.error) { state.textContent += ": " + job.error; }
    }
    source.addEventListener("progress", function (e) { show(JSON.parse(e.data)); });
    source.addEventListener("done", function (e) {
      show(JSON.parse(e.data));
      source.close();
      el.setAttribute("data-finished", "true");
    });
  }
  function scan() { document.querySelectorAll("[data-job-events]").forEach(watch); }
  document.addEventListener("DOMContentLoaded", scan);
  document.addEventListener("htmx:afterSettle", scan);  // pages reached through hx-boost
})();
