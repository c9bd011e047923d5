// A file over the limit is refused before it is sent (the server refuses it anyway): no long wait for nothing.
(function () {
  var form = document.querySelector("form.depot");
  if (!form) return;
  var input = form.querySelector("input[type=file]");
  var said = document.getElementById("message-" + input.id);
  var limit = Number(form.dataset.limite), mo = form.dataset.limiteMo;
  function check() {
    var file = input.files && input.files[0];
    var over = file && file.size > limit;
    said.textContent = over
      ? "Le fichier dépasse " + mo + " Mo, la taille maximale d'un dépôt. Réduisez-le ou répartissez les pièces en plusieurs dépôts."
      : "";
    return !over;
  }
  input.addEventListener("change", check);
  form.addEventListener("submit", function (event) { if (!check()) event.preventDefault(); });
})();
