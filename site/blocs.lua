-- Les blocs Quarto des chapitres, rendus au site.
--
-- Dans les notebooks, chaque ligne de bloc de la source (`::: {.panel-tabset group="lib"}`,
-- `::: {.callout-tip collapse="true"}`, `:::`) est un commentaire HTML, que Jupyter
-- n'affiche pas : `<!-- ::: {.panel-tabset group="lib"} -->` (src/s3cours/notebooks.py,
-- for_jupyter). Ce filtre, lancé avant que Quarto ne lise le document (`at: pre-ast`),
-- remet à leur place les blocs qu'ils délimitent : onglets et encadrés sont ceux de la
-- source, à l'identique. Un encadré sans code (note, avertissement) est dans le notebook
-- une citation dont le titre est en gras, comme Jupyter sait l'afficher : il redevient ici
-- un encadré dont le titre est le premier titre.

local function fence(block)
  if block.t ~= "RawBlock" or block.format ~= "html" then
    return nil
  end
  return block.text:match("^<!%-%- (:::+.-) %-%->$")
end

-- Les attributs d'une ligne ouvrante, lus par pandoc comme dans la source.
local function attributes(line)
  local parsed = pandoc.read(line .. "\n\nx\n\n:::", "markdown")
  local div = parsed.blocks[1]
  if div == nil or div.t ~= "Div" then
    error("bloc illisible dans un notebook : " .. line)
  end
  return div.attr
end

-- Le contenu d'un encadré montré à Jupyter en citation, rendu à l'encadré.
local function unquote(div)
  local callout = false
  for _, class in ipairs(div.classes) do
    callout = callout or class:match("^callout%-") ~= nil
  end
  if not callout or #div.content ~= 1 or div.content[1].t ~= "BlockQuote" then
    return div
  end
  local blocks = div.content[1].content
  local first = blocks[1]
  if first and first.t == "Para" and #first.content == 1 and first.content[1].t == "Strong" then
    blocks[1] = pandoc.Header(2, first.content[1].content)
  end
  div.content = blocks
  return div
end

-- Un encadré replié (`collapse="true"` : les solutions des exercices). Quarto en fait un
-- `div` à `data-bs-toggle`, sans rôle ni tabindex : le clavier ne l'atteint pas, et un
-- lecteur d'écran l'annonce en anglais (« Toggle callout »). Il devient ici un encadré
-- sans bandeau de titre (apparence « minimal ») dont le contenu est un vrai `<details>` :
-- son `<summary>` porte le titre de la source (« Solution de l'exercice 1 »), s'ouvre et
-- se ferme au clavier (Entrée, Espace) et se lit en français, comme la cellule de
-- préparation (repliée par Quarto en `<details>` elle aussi).
local function fold(div)
  if div.attributes.collapse ~= "true" then
    return div
  end
  local first = div.content[1]
  if first == nil or first.t ~= "Header" then
    error("encadré replié sans titre dans un notebook : le titre nomme ce qu'il cache")
  end
  div.attributes.collapse = nil
  -- Sans bandeau de titre (« Astuce ») : le titre est celui du <summary>.
  div.attributes.appearance = "minimal"
  local blocks = pandoc.List({
    pandoc.RawBlock("html", '<details class="replie">'),
    pandoc.RawBlock("html", "<summary>"),
    pandoc.Plain(first.content),
    pandoc.RawBlock("html", "</summary>"),
  })
  for i = 2, #div.content do
    blocks:insert(div.content[i])
  end
  blocks:insert(pandoc.RawBlock("html", "</details>"))
  div.content = blocks
  return div
end

function Pandoc(doc)
  local out, stack = {}, {}
  local function add(block)
    if #stack > 0 then
      table.insert(stack[#stack].content, block)
    else
      table.insert(out, block)
    end
  end
  for _, block in ipairs(doc.blocks) do
    local line = fence(block)
    if line == nil then
      add(block)
    elseif line:match("^:::+$") then
      if #stack == 0 then
        error("`:::` fermant sans bloc ouvert dans un notebook")
      end
      local top = table.remove(stack)
      add(fold(unquote(pandoc.Div(top.content, top.attr))))
    else
      table.insert(stack, { attr = attributes(line), content = {} })
    end
  end
  if #stack > 0 then
    error(#stack .. " bloc(s) `:::` non fermé(s) dans un notebook")
  end
  doc.blocks = out
  return doc
end
