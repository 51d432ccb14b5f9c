-- « Source de cette page », en bas de chaque page : le fichier à modifier pour la changer.
-- Le lien « Voir la source » de Quarto (repo-actions: source) mène au fichier qu'il a rendu,
-- pour un chapitre le notebook, qui est généré ; la source d'un chapitre est
-- content/NN_nom.Rmd (voir CONTRIBUTING.md). Les autres pages sont leur propre source.
-- Le dépôt et la branche sont ceux de website: dans _quarto.yml (source-depot,
-- source-branche), les mêmes que pour les liens de lancement.
function Pandoc(doc)
  local depot, branche = doc.meta["source-depot"], doc.meta["source-branche"]
  if depot == nil or branche == nil or quarto.project.directory == nil then
    return nil
  end
  local page = pandoc.path.make_relative(quarto.doc.input_file, quarto.project.directory)
  page = page:gsub("\\", "/")
  local chapitre = page:match("^notebooks/(.+)%.ipynb$")
  local source = chapitre and ("content/" .. chapitre .. ".Rmd") or page
  local adresse = pandoc.utils.stringify(depot) .. "/blob/"
    .. pandoc.utils.stringify(branche) .. "/" .. source
  doc.blocks:insert(pandoc.Div(
    pandoc.Para({ pandoc.Str("Source de cette page\u{00A0}:"), pandoc.Space(),
                  pandoc.Link(pandoc.Code(source), adresse) }),
    { class = "source-page" }))
  return doc
end
