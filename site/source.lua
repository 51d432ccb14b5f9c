-- « Source de cette page », en bas de chaque page : le fichier à modifier pour la
-- changer. Le lien « Voir la source » de Quarto (repo-actions: source) mène au fichier
-- qu'il a rendu, pour un chapitre le notebook, qui est généré ; la source d'un
-- chapitre est content/NN_nom.Rmd (voir CONTRIBUTING.md). Les autres pages sont leur
-- propre source, sauf une page générée, qui nomme la sienne (source-page: dans son en-tête).
-- Le dépôt et la branche sont ceux de website: dans _quarto.yml (repo-url,
-- repo-branch), les mêmes que pour les liens de lancement ; une page ne les voit pas
-- dans ses métadonnées, d'où la lecture du fichier.

local function website()
  local chemin = pandoc.path.join({ quarto.project.directory, "_quarto.yml" })
  local fichier = io.open(chemin, "r")
  if fichier == nil then
    return nil
  end
  local texte = fichier:read("a")
  fichier:close()
  return pandoc.read("---\n" .. texte .. "\n---\n", "markdown").meta.website
end

function Pandoc(doc)
  if quarto.project.directory == nil then
    return nil
  end
  local reglages = website()
  if reglages == nil or reglages["repo-url"] == nil then
    return nil
  end
  local branche = "main"
  if reglages["repo-branch"] ~= nil then
    branche = pandoc.utils.stringify(reglages["repo-branch"])
  end
  local page = pandoc.path.make_relative(quarto.doc.input_file,
                                         quarto.project.directory)
  page = page:gsub("\\", "/")
  local chapitre = page:match("^notebooks/(.+)%.ipynb$")
  local source = chapitre and ("content/" .. chapitre .. ".Rmd") or page
  -- Une page générée (l'aide-mémoire) nomme dans son en-tête ce qui la produit.
  if doc.meta["source-page"] ~= nil then
    source = pandoc.utils.stringify(doc.meta["source-page"])
  end
  local adresse = pandoc.utils.stringify(reglages["repo-url"]) .. "/blob/" .. branche
    .. "/" .. source
  doc.blocks:insert(pandoc.Div(
    pandoc.Para({ pandoc.Str("Source de cette page\u{00A0}:"), pandoc.Space(),
                  pandoc.Link(pandoc.Code(source), adresse) }),
    { class = "source-page" }))
  return doc
end
