-- L'explication en français que la cellule de préparation imprime sous une erreur S3
-- (src/s3cours/diagnostic.py : « ➜ ce qui ne va pas / À faire : … ») est une sortie
-- texte comme les autres : elle reçoit ici la classe `explication`, que site/site.css
-- détache visuellement de la trace d'erreur au-dessus (cadre, fond, titre).

local MARK = "➜ "

function Div(div)
  if not div.classes:includes("cell-output-stdout") then
    return nil
  end
  local first = div.content[1]
  if first and first.t == "CodeBlock" and first.text:sub(1, #MARK) == MARK then
    div.classes:insert("explication")
    return div
  end
end
