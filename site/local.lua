-- Tout ce qu'une page charge vient du site lui-même : aucune requête vers un autre hôte
-- (Google Fonts, CDN, images de badges), vérifié par tests/test_site_browser.py.
--
-- 1. Les badges de lancement. Les notebooks gardent leurs badges (img.shields.io,
--    mybinder.org, colab.research.google.com : src/s3cours/launch.py, BADGES) pour GitHub,
--    Colab et JupyterLab ; sur le site, chacun devient l'image du cours de même rôle
--    (site/badges/*.svg), le lien restant le même.
-- 2. require.js et jQuery. Quarto les charge d'un CDN dans toute page dont un notebook a
--    une sortie `text/html` (src/core/jupyter/widgets.ts : il suppose un « widget
--    JavaScript », comme itables ou plotly) ; ici ce ne sont que les tableaux de pandas,
--    du HTML sans script : les balises sont retirées de l'en-tête de la page.

local BADGES = {
  ["https://img.shields.io/badge/SSP%20Cloud-"] = "sspcloud.svg",
  ["https://mybinder.org/badge_logo.svg"] = "binder.svg",
  ["https://colab.research.google.com/assets/colab-badge.svg"] = "colab.svg",
  ["https://img.shields.io/badge/GitHub-"] = "github.svg",
}

function Image(image)
  for prefix, file in pairs(BADGES) do
    if image.src:sub(1, #prefix) == prefix then
      local offset = quarto.project.offset or ""
      image.src = (offset ~= "" and offset .. "/" or "") .. "site/badges/" .. file
      return image
    end
  end
end

local CDN = {
  "cdn.jsdelivr.net/npm/requirejs@",
  "cdn.jsdelivr.net/npm/jquery@",
  "define('jquery'",
}

local function from_cdn(text)
  for _, needle in ipairs(CDN) do
    if text:find(needle, 1, true) then
      return true
    end
  end
  return false
end

function Meta(meta)
  local includes = meta["header-includes"]
  if includes == nil then
    return nil
  end
  local kept = pandoc.List()
  for _, item in ipairs(includes) do
    local kind = pandoc.utils.type(item)
    if kind == "Blocks" or kind == "Inlines" then
      item = item:filter(function(raw)
        return not ((raw.t == "RawBlock" or raw.t == "RawInline") and from_cdn(raw.text))
      end)
      if #item > 0 then
        kept:insert(item)
      end
    elseif not from_cdn(pandoc.utils.stringify(item)) then
      kept:insert(item)
    end
  end
  meta["header-includes"] = kept
  return meta
end
