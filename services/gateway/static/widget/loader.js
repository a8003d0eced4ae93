/* Parley chat widget loader. Add to any page:
 *   <script src="https://your-parley-host/widget.js" defer></script>
 * Optional attributes: data-title="Acme Support", data-departments="Sales,Support,Billing".
 * The widget talks to the origin this file was loaded from and keeps the visitor's chat across pages
 * (localStorage of the embedding site). */
(function () {
  'use strict';
  var script = document.currentScript;
  if (!script || window.__parleyWidgetLoaded) return;
  window.__parleyWidgetLoaded = true;
  var origin = new URL(script.src, window.location.href).origin;
  var options = {
    origin: origin,
    title: script.getAttribute('data-title') || 'Chat with us',
    departments: (script.getAttribute('data-departments') || '').split(',').map(function (d) { return d.trim(); }).filter(Boolean),
  };
  import(origin + '/static/widget/widget.js')
    .then(function (module) { module.mount(options); })
    .catch(function (error) { console.error('Parley widget failed to load', error); });
})();
