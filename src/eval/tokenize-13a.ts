// The "13a" tokenizer of mteval-v13a.pl as sacreBLEU applies it (its default for BLEU): unescape a few XML
// entities, split off punctuation and symbols, split periods/commas unless between digits and dashes after digits.

export function tokenize13a(line: string): string {
  line = line.replaceAll("<skipped>", "").replaceAll("-\n", "").replaceAll("\n", " ");
  if (line.includes("&")) {
    line = line
      .replaceAll("&quot;", '"')
      .replaceAll("&amp;", "&")
      .replaceAll("&lt;", "<")
      .replaceAll("&gt;", ">");
  }
  line = ` ${line} `;
  line = line.replace(/([{-~[-` -&(-+:-@/])/g, " $1 ");
  line = line.replace(/([^0-9])([.,])/g, "$1 $2 ");
  line = line.replace(/([.,])([^0-9])/g, " $1 $2");
  line = line.replace(/([0-9])(-)/g, "$1 $2 ");
  return line
    .split(/\s+/)
    .filter((w) => w.length > 0)
    .join(" ");
}
