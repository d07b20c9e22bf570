/* Tenure contact form: <script src="{{ url|cut:'?embed=1' }}embed.js" async></script> puts the form where the tag is. */
(function () {
  var here = document.currentScript;
  var frame = document.createElement("iframe");
  frame.src = "{{ url|escapejs }}";
  frame.title = "Contact form";
  frame.loading = "lazy";
  frame.style.cssText = "width:100%;max-width:36rem;height:44rem;border:0;";
  if (here && here.parentNode) {
    here.parentNode.insertBefore(frame, here.nextSibling);
  } else {
    document.body.appendChild(frame);
  }
})();
