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
      add(unquote(pandoc.Div(top.content, top.attr)))
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
