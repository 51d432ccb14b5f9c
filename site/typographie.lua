-- Typographie française dans le texte (jamais dans le code) : une espace insécable avant
-- « : », « ; », « ! », « ? » et « » », et après « « », pour que la ponctuation ne
-- commence jamais une ligne.
local FINE = "\u{202F}"      -- espace fine insécable : avant ; ! ?
local INSECABLE = "\u{00A0}" -- espace insécable : avant :, dans les guillemets

local function avant(texte)
  local premier = texte:sub(1, 1)
  if premier == ":" then return INSECABLE end
  if premier == ";" or premier == "!" or premier == "?" then return FINE end
  if texte:sub(1, 2) == "»" then return INSECABLE end
  return nil
end

function Inlines(inlines)
  for i = #inlines - 1, 2, -1 do
    local espace, suivant, precedent = inlines[i], inlines[i + 1], inlines[i - 1]
    if espace.t == "Space" then
      local remplacant = nil
      if suivant.t == "Str" then
        remplacant = avant(suivant.text)
      end
      if remplacant == nil and precedent.t == "Str" and precedent.text:sub(-2) == "«" then
        remplacant = INSECABLE
      end
      if remplacant ~= nil then
        inlines[i] = pandoc.Str(remplacant)
      end
    end
  end
  return inlines
end
