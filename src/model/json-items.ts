// A JSON document split into the elements of its top-level `items` array, one at a time, as the
// bytes arrive: what a cluster dump (`kubectl get nodes,pods -A -o json`, a v1 List) needs to be
// loaded without holding the whole parsed document — JSON.parse of a 75 MB dump made the process
// peak at ~3× the ledger it built. Each element is handed over as its own JSON text (parsed by
// JSON.parse, so element syntax is checked exactly); everything outside the items arrays (the
// "skeleton": apiVersion, kind, metadata) is kept and parsed at the end with `"items":[]`, which
// checks the rest of the document. Only a key spelled plainly `"items"` is split; an escaped
// spelling stays in the skeleton and is parsed with it (correct, only not streamed).

export class JsonItemsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'JsonItemsError';
  }
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const COMMA = 0x2c;
const OPEN_OBJ = 0x7b;
const CLOSE_OBJ = 0x7d;
const OPEN_ARR = 0x5b;
const CLOSE_ARR = 0x5d;
const ITEMS = Buffer.from('items');
const NO_BYTES = Buffer.alloc(0);
/** A key head that is already longer than `items`. */
const ITEMS_NOT = Buffer.from('not items');

function isSpace(b: number): boolean {
  return b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;
}

/** Where the splitter is inside an items array. */
type ItemsState = 'first' | 'value' | 'in-value' | 'after';

export class JsonItemsSplitter {
  /** Bytes of the document outside the items arrays. */
  private readonly skeleton: Buffer[] = [];
  private depth = 0;
  private inString = false;
  private escape = false;
  private started = false;
  private ended = false;
  /** Depth-1 bookkeeping: expecting a key; the key being read; the last key read. */
  private expectKey = false;
  private keyStart = -1;
  /** The bytes of a key read in earlier chunks. */
  private keyHead: Buffer = NO_BYTES;
  private keyIsItems = false;
  private itemsNext = false;
  private itemsSeen = false;
  /** Inside an items array (null: outside), and the element being collected. */
  private items: ItemsState | null = null;
  private elementDepth = 0;
  private elementScalar = false;
  private element: Buffer[] = [];
  private elementStart = -1;
  private count = 0;

  constructor(private readonly onItem: (json: string, index: number) => void) {}

  /** Elements handed over so far. */
  get itemCount(): number {
    return this.count;
  }

  /** Start of the skeleton bytes of the current chunk not yet kept. */
  private copyFrom = 0;

  /** Takes the next bytes of the document. `chunk` is not kept: the caller may reuse it. */
  push(chunk: Buffer): void {
    this.copyFrom = 0;
    let i = 0;
    const n = chunk.length;
    let slash = -1;
    while (i < n) {
      const b = chunk[i];
      if (this.inString) {
        // Jump to the next quote or backslash (strings are most of the bytes).
        if (this.escape) {
          this.escape = false;
          i++;
          continue;
        }
        const q = chunk.indexOf(QUOTE, i);
        // The next backslash, searched again only once passed (most documents have none: a
        // search per string would scan the rest of the chunk each time).
        if (slash < i) {
          slash = chunk.indexOf(BACKSLASH, i);
          if (slash < 0) slash = n;
        }
        if (slash < n && (q < 0 || slash < q)) {
          this.escape = true;
          i = slash + 1;
          continue;
        }
        if (q < 0) {
          i = n;
          continue;
        }
        this.inString = false;
        if (this.keyStart >= 0) {
          const len = this.keyHead.length + q - this.keyStart;
          this.keyIsItems =
            len === ITEMS.length && this.keyHead !== ITEMS_NOT && this.keyHead.equals(ITEMS.subarray(0, this.keyHead.length)) && chunk.compare(ITEMS, this.keyHead.length, ITEMS.length, this.keyStart, q) === 0;
          this.keyStart = -1;
          this.keyHead = NO_BYTES;
        }
        i = q + 1;
        if (this.items === 'in-value' && this.elementScalar) i = this.endElement(chunk, i);
        continue;
      }
      if (this.items !== null) {
        i = this.itemsByte(chunk, i, b);
        continue;
      }
      if (isSpace(b)) {
        i++;
        continue;
      }
      if (this.ended) throw new JsonItemsError(`unexpected character after the end of the document`);
      if (!this.started) {
        if (b !== OPEN_OBJ) throw new JsonItemsError('the document is not a JSON object');
        this.started = true;
      }
      // At depth 1 a value other than the `[` right after `"items":` is not an items array.
      const itemsValue = this.itemsNext && b === OPEN_ARR;
      if (this.depth === 1 && b !== COLON) this.itemsNext = false;
      switch (b) {
        case QUOTE:
          this.inString = true;
          if (this.depth === 1 && this.expectKey) {
            this.keyStart = i + 1;
            this.keyHead = NO_BYTES;
            this.keyIsItems = false;
            this.expectKey = false;
          }
          break;
        case OPEN_OBJ:
        case OPEN_ARR:
          this.depth++;
          if (this.depth === 1) this.expectKey = true;
          if (this.depth === 2 && itemsValue) {
            if (this.itemsSeen) throw new JsonItemsError('"items" appears twice');
            this.itemsSeen = true;
            this.items = 'first';
            // The skeleton keeps `[`; the elements go to onItem. (Skeleton bytes are copied: a
            // slice would keep the whole chunk alive.)
            this.skeleton.push(Buffer.from(chunk.subarray(this.copyFrom, i + 1)));
            this.copyFrom = i + 1;
          }
          break;
        case CLOSE_OBJ:
        case CLOSE_ARR:
          this.depth--;
          if (this.depth < 0) throw new JsonItemsError('unbalanced brackets');
          if (this.depth === 0) this.ended = true;
          break;
        case COLON:
          if (this.depth === 1) this.itemsNext = this.keyIsItems;
          break;
        case COMMA:
          if (this.depth === 1) this.expectKey = true;
          break;
      }
      i++;
    }
    if (this.keyStart >= 0) {
      // A key that goes on in the next chunk: keep its first bytes (a longer one is not `items`).
      const part = Buffer.concat([this.keyHead, chunk.subarray(this.keyStart, n)]);
      this.keyHead = part.length <= ITEMS.length ? part : ITEMS_NOT;
      this.keyStart = 0;
    }
    if (this.items === null) this.skeleton.push(Buffer.from(chunk.subarray(this.copyFrom, n)));
    else if (this.items === 'in-value') {
      // Copied: the caller may reuse the chunk's memory for the next one.
      this.element.push(Buffer.from(chunk.subarray(this.elementStart, n)));
      this.elementStart = 0;
    }
  }

  /** One byte inside an items array, outside strings. Returns where scanning goes on. */
  private itemsByte(chunk: Buffer, i: number, b: number): number {
    switch (this.items) {
      case 'first':
      case 'value':
        if (isSpace(b)) return i + 1;
        if (b === CLOSE_ARR && this.items === 'first') return this.closeItems(i);
        if (b === COMMA || b === CLOSE_ARR || b === COLON || b === CLOSE_OBJ) throw new JsonItemsError(`items[${this.count}]: unexpected "${String.fromCharCode(b)}"`);
        this.items = 'in-value';
        this.element = [];
        this.elementStart = i;
        this.elementScalar = b !== OPEN_OBJ && b !== OPEN_ARR;
        this.elementDepth = this.elementScalar ? 0 : 1;
        if (b === QUOTE) this.inString = true;
        return i + 1;
      case 'in-value':
        if (this.elementScalar) {
          // A number or literal ends at a separator.
          if (b === COMMA || b === CLOSE_ARR || isSpace(b)) return this.endElement(chunk, i);
          return i + 1;
        }
        if (b === QUOTE) this.inString = true;
        else if (b === OPEN_OBJ || b === OPEN_ARR) this.elementDepth++;
        else if (b === CLOSE_OBJ || b === CLOSE_ARR) {
          this.elementDepth--;
          if (this.elementDepth === 0) return this.endElement(chunk, i + 1);
        }
        return i + 1;
      case 'after':
        if (isSpace(b)) return i + 1;
        if (b === COMMA) {
          this.items = 'value';
          return i + 1;
        }
        if (b === CLOSE_ARR) return this.closeItems(i);
        throw new JsonItemsError(`after items[${this.count - 1}]: expected "," or "]", got "${String.fromCharCode(b)}"`);
      default:
        return i + 1;
    }
  }

  /** The element ends before `end` in this chunk: hand it over. Returns where scanning goes on. */
  private endElement(chunk: Buffer, end: number): number {
    this.element.push(chunk.subarray(this.elementStart, end));
    const bytes = this.element.length === 1 ? this.element[0] : Buffer.concat(this.element);
    this.element = [];
    this.elementStart = -1;
    this.items = 'after';
    this.onItem(bytes.toString('utf8'), this.count++);
    return end;
  }

  /** The `]` closing the items array at `i`: back to the skeleton, which keeps it (from `i`). */
  private closeItems(i: number): number {
    this.items = null;
    this.depth = 1;
    this.copyFrom = i;
    return i + 1;
  }

  /** The document outside the items arrays, parsed (with `"items":[]`). Throws if it is not valid JSON. */
  end(): unknown {
    if (this.inString || this.items !== null || this.depth !== 0 || !this.started) throw new JsonItemsError('the document ends early (truncated?)');
    const text = Buffer.concat(this.skeleton).toString('utf8');
    try {
      return JSON.parse(text);
    } catch (err) {
      throw new JsonItemsError(err instanceof Error ? err.message : String(err));
    }
  }
}
