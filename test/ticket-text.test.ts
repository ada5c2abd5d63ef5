import { describe, expect, test } from "bun:test";
import { formatStart, shortTicketId } from "../src/ticket/format.ts";
import { InvalidTicketContentError, UnrenderableTextError } from "../src/ticket/errors.ts";
import { fallbackChain, loadFont } from "../src/ticket/fonts.ts";
import { lineWidth, prepareText, visualRuns, type PreparedText } from "../src/ticket/text.ts";
import { fitText, wrapText } from "../src/ticket/wrap.ts";

const LATIN = 0;
const ARABIC = 1;
const HEBREW = 2;
const CJK = 3;
const KOREAN = 4;

function joined(line: PreparedText): string {
  return line.chars.join("");
}

describe("prepareText", () => {
  test("assigns the first covering font", () => {
    const text = prepareText("Aя王مש김", "regular", "name");

    expect(text.fonts).toEqual([LATIN, LATIN, CJK, ARABIC, HEBREW, KOREAN]);
  });

  test("collapses whitespace and composes accents", () => {
    const text = prepareText("  Zoe\u0308 \t\n Smith ", "regular", "name");

    expect(joined(text)).toBe("Zoë Smith");
  });

  test("keeps spaces in the surrounding font", () => {
    const text = prepareText("محمد علي", "regular", "name");

    expect(new Set(text.fonts)).toEqual(new Set([ARABIC]));
  });

  test("names field and code point on failure", () => {
    const failure = () => prepareText("ok \u{1F600}", "bold", "venue");

    expect(failure).toThrow(UnrenderableTextError);
    expect(failure).toThrow("No embedded font has a glyph for U+1F600 in venue");
  });

  test("control character is unrenderable", () => {
    expect(() => prepareText("a\u0007b", "regular", "name")).toThrow(UnrenderableTextError);
  });
});

describe("visualRuns", () => {
  test("left-to-right text stays in order", () => {
    const runs = visualRuns(prepareText("Anna 王小明", "regular", "name"));

    expect(runs.map((run) => run.text)).toEqual(["Anna ", "王小明"]);
    expect(runs.every((run) => !run.rightToLeft)).toBe(true);
  });

  test("Arabic run inside Latin keeps its place", () => {
    const runs = visualRuns(prepareText("Anna محمد", "regular", "name"));

    expect(runs.map((run) => run.text)).toEqual(["Anna ", "محمد"]);
    expect(runs.map((run) => run.rightToLeft)).toEqual([false, true]);
  });

  test("Arabic-first line puts Latin on the left", () => {
    const runs = visualRuns(prepareText("محمد Anna", "regular", "name"));

    expect(runs.map((run) => run.text)).toEqual(["Anna", "محمد "]);
  });

  test("numbers in Arabic text read left to right", () => {
    const runs = visualRuns(prepareText("محمد 12 علي", "regular", "name"));

    expect(runs.map((run) => run.text)).toEqual(["علي", " ", "12", "محمد "]);
  });
});

/** Returns the characters of a line in the order fontkit places their glyphs, left to right. */
function displayOrder(text: string): string {
  const runs = visualRuns(prepareText(text, "regular", "name"));
  return runs
    .flatMap((run) => {
      const source = fallbackChain("regular")[run.fontIndex];
      if (source === undefined) throw new Error(`no font at index ${run.fontIndex}`);
      return loadFont(source).font.layout(run.text).glyphs.flatMap((glyph) => glyph.codePoints);
    })
    .map((codePoint) => String.fromCodePoint(codePoint))
    .join("");
}

describe("display order", () => {
  test("Arabic-Indic digits read left to right", () => {
    expect(displayOrder("قاعة ١٢").startsWith("١٢")).toBe(true);
  });

  test("European digits read left to right", () => {
    expect(displayOrder("قاعة 12").startsWith("12")).toBe(true);
  });

  test("Arabic letters are reversed", () => {
    expect(displayOrder("Anna محمد")).toBe("Anna دمحم");
  });
});

describe("wrapText", () => {
  test("breaks at spaces within the width", () => {
    const text = prepareText("one two three four five six seven", "regular", "title");

    const lines = wrapText(text, 12, 80);

    expect(lines.length).toBeGreaterThan(1);
    expect(lines.map(joined).join(" ")).toBe("one two three four five six seven");
    for (const line of lines) expect(lineWidth(line, 12)).toBeLessThanOrEqual(80);
  });

  test("breaks CJK text between characters", () => {
    const text = prepareText("北京大学中文系学术讲座系列", "regular", "title");

    const lines = wrapText(text, 12, 50);

    expect(lines.length).toBeGreaterThan(1);
    expect(lines.map(joined).join("")).toBe("北京大学中文系学术讲座系列");
    for (const line of lines) expect(lineWidth(line, 12)).toBeLessThanOrEqual(50);
  });

  test("splits a word wider than the line", () => {
    const text = prepareText("Donaudampfschifffahrtsgesellschaft", "regular", "title");

    const lines = wrapText(text, 12, 60);

    expect(lines.map(joined).join("")).toBe("Donaudampfschifffahrtsgesellschaft");
    for (const line of lines) expect(lineWidth(line, 12)).toBeLessThanOrEqual(60);
  });

  test("keeps combining marks with their base", () => {
    // U+0328 has no precomposed form with "n", so it stays a separate mark.
    const text = prepareText("n\u0328".repeat(30), "regular", "title");

    const lines = wrapText(text, 12, 40);

    expect(lines.length).toBeGreaterThan(1);
    for (const line of lines) expect(line.chars[0]).toBe("n");
  });
});

describe("fitText", () => {
  test("uses the largest size that fits", () => {
    const text = prepareText("Short title", "bold", "title");

    expect(fitText(text, [24, 18, 12], 300, 2).size).toBe(24);
  });

  test("shrinks before adding lines", () => {
    const text = prepareText("A somewhat longer event title for a talk", "bold", "title");

    const fitted = fitText(text, [24, 12], 300, 1);

    expect(fitted.size).toBe(12);
    expect(fitted.lines.length).toBe(1);
  });

  test("cuts with an ellipsis at the smallest size", () => {
    const text = prepareText("word ".repeat(200), "regular", "title");

    const fitted = fitText(text, [14, 10], 200, 2);

    expect(fitted.size).toBe(10);
    expect(fitted.lines.length).toBe(2);
    expect(fitted.lines[1]?.chars.at(-1)).toBe("\u2026");
    for (const line of fitted.lines) expect(lineWidth(line, 10)).toBeLessThanOrEqual(200);
  });
});

describe("formatStart", () => {
  test("formats in the event time zone", () => {
    expect(formatStart("2025-03-14T18:00:00Z", "Europe/Vienna")).toEqual({
      date: "Friday, 14 March 2025",
      time: "19:00 CET",
      timeZone: "Europe/Vienna",
    });
  });

  test("date follows the zone across midnight", () => {
    const start = formatStart("2025-03-14T23:30:00Z", "Asia/Tokyo");

    expect(start.date).toBe("Saturday, 15 March 2025");
    expect(start.time.startsWith("08:30")).toBe(true);
  });

  test("invalid inputs throw InvalidTicketContentError", () => {
    expect(() => formatStart("2025-13-45", "Europe/Vienna")).toThrow(InvalidTicketContentError);
    expect(() => formatStart("2025-03-14T18:00:00Z", "Not/AZone")).toThrow(
      InvalidTicketContentError,
    );
  });
});

describe("shortTicketId", () => {
  test("groups the first twelve characters", () => {
    expect(shortTicketId("3f2a9c1e-7b40-4d2e-9a61-0c5b8e7d1f23")).toBe("3F2A-9C1E-7B40");
  });

  test("short ids stay short", () => {
    expect(shortTicketId("ab-c")).toBe("ABC");
  });
});
