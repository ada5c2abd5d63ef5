/**
 * A TrueType repair that makes fonts safe for pdf-lib's subsetting.
 *
 * @pdf-lib/fontkit 1.1.1 copies each glyph record into the subset unchanged
 * and then picks the short `loca` format whenever the subset is small. Short
 * offsets are stored halved, so they must be even. Fonts built without glyph
 * padding, such as the Noto Sans files in @expo-google-fonts 0.4, have
 * odd-length records, and their subsets then draw many glyphs as nothing,
 * without any error. Padding every record to 4 bytes avoids this.
 */

export class FontFormatError extends Error {
  override name = "FontFormatError";
  readonly code = "FONT_FORMAT";
}

interface TableRecord {
  tag: string;
  offset: number;
  length: number;
}

/** Table directory of a TrueType font, keyed by tag. */
function readTables(view: DataView): Map<string, TableRecord> {
  const tables = new Map<string, TableRecord>();
  const count = view.getUint16(4);
  for (let index = 0; index < count; index++) {
    const at = 12 + index * 16;
    const tag = String.fromCharCode(
      view.getUint8(at),
      view.getUint8(at + 1),
      view.getUint8(at + 2),
      view.getUint8(at + 3),
    );
    tables.set(tag, { tag, offset: view.getUint32(at + 8), length: view.getUint32(at + 12) });
  }
  return tables;
}

function requireTable(tables: Map<string, TableRecord>, tag: string): TableRecord {
  const table = tables.get(tag);
  if (table === undefined) throw new FontFormatError(`Font has no ${tag} table`);
  return table;
}

function readGlyphOffsets(view: DataView, tables: Map<string, TableRecord>): number[] {
  const head = requireTable(tables, "head");
  const loca = requireTable(tables, "loca");
  const longFormat = view.getInt16(head.offset + 50) === 1;
  const glyphCount = view.getUint16(requireTable(tables, "maxp").offset + 4);

  const offsets: number[] = [];
  for (let index = 0; index <= glyphCount; index++) {
    offsets.push(
      longFormat
        ? view.getUint32(loca.offset + index * 4)
        : view.getUint16(loca.offset + index * 2) * 2,
    );
  }
  return offsets;
}

/** OpenType table checksum: the sum of the data as big-endian uint32 words. */
function checksum(bytes: Uint8Array): number {
  const padded = new Uint8Array(Math.ceil(bytes.length / 4) * 4);
  padded.set(bytes);
  const view = new DataView(padded.buffer);
  let sum = 0;
  for (let at = 0; at < padded.length; at += 4) sum = (sum + view.getUint32(at)) >>> 0;
  return sum;
}

/**
 * Returns the font with every glyph record padded to a multiple of 4 bytes
 * and a long-format `loca`, or the input itself when all records already
 * have even lengths.
 */
export function padGlyphRecords(font: Uint8Array): Uint8Array {
  const view = new DataView(font.buffer, font.byteOffset, font.byteLength);
  const tables = readTables(view);
  if (!tables.has("glyf")) return font;

  const offsets = readGlyphOffsets(view, tables);
  if (offsets.every((offset) => offset % 2 === 0)) return font;

  const glyf = requireTable(tables, "glyf");
  const glyphs: Uint8Array[] = [];
  const newOffsets: number[] = [0];
  let total = 0;
  for (let index = 0; index + 1 < offsets.length; index++) {
    const start = offsets[index] ?? 0;
    const end = offsets[index + 1] ?? start;
    const length = Math.ceil((end - start) / 4) * 4;
    const record = new Uint8Array(length);
    record.set(font.subarray(glyf.offset + start, glyf.offset + end));
    glyphs.push(record);
    total += length;
    newOffsets.push(total);
  }

  const newGlyf = new Uint8Array(total);
  let at = 0;
  for (const record of glyphs) {
    newGlyf.set(record, at);
    at += record.length;
  }

  const newLoca = new Uint8Array(newOffsets.length * 4);
  const locaView = new DataView(newLoca.buffer);
  for (const [index, offset] of newOffsets.entries()) locaView.setUint32(index * 4, offset);

  const head = requireTable(tables, "head");
  const newHead = font.slice(head.offset, head.offset + head.length);
  const headView = new DataView(newHead.buffer);
  headView.setUint32(8, 0); // checkSumAdjustment, recomputed below
  headView.setInt16(50, 1); // indexToLocFormat: long offsets

  const replaced = new Map([
    ["glyf", newGlyf],
    ["loca", newLoca],
    ["head", newHead],
  ]);
  return assembleFont(font, [...tables.values()], replaced);
}

/** Writes a font with the given tables, in the original directory order. */
function assembleFont(
  original: Uint8Array,
  records: readonly TableRecord[],
  replaced: ReadonlyMap<string, Uint8Array>,
): Uint8Array {
  const data = records.map(
    (record) =>
      replaced.get(record.tag) ??
      original.subarray(record.offset, record.offset + record.length),
  );

  const headerLength = 12 + records.length * 16;
  let size = headerLength;
  for (const table of data) size += Math.ceil(table.length / 4) * 4;

  const output = new Uint8Array(size);
  const out = new DataView(output.buffer);
  output.set(original.subarray(0, 12));

  let offset = headerLength;
  let headOffset = -1;
  for (const [index, record] of records.entries()) {
    const table = data[index] ?? new Uint8Array();
    const entry = 12 + index * 16;
    // The directory keeps its order, so each tag sits where it was.
    output.set(original.subarray(entry, entry + 4), entry);
    out.setUint32(entry + 4, checksum(table));
    out.setUint32(entry + 8, offset);
    out.setUint32(entry + 12, table.length);
    output.set(table, offset);
    if (record.tag === "head") headOffset = offset;
    offset += Math.ceil(table.length / 4) * 4;
  }

  if (headOffset >= 0) {
    out.setUint32(headOffset + 8, (0xb1b0afba - checksum(output)) >>> 0);
  }
  return output;
}
