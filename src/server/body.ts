// Request bodies: read under a per-request size limit (--max-body) and a budget shared by every body
// still being read or handled (--body-budget), so many slow or concurrent uploads cannot hold more
// memory than the budget. A body that does not fit is refused before its bytes are kept: from its
// Content-Length when declared, else at the chunk that crosses the line.

import type { IncomingMessage } from 'node:http';

/** An error the client caused (or a refusal it should retry): its status and a message for the JSON `Error` reply. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const UNITS: Record<string, number> = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 };

/** "64mb" → bytes (the --max-body syntax: a number and an optional b/kb/mb/gb unit, 1024-based). */
export function parseSize(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(b|kb|mb|gb)?$/i.exec(text.trim());
  if (!m) throw new Error(`"${text}" is not a size (e.g. 64mb)`);
  return Math.floor(Number(m[1]) * UNITS[(m[2] ?? 'b').toLowerCase()]);
}

/** Bytes of request bodies held at once, across every listener. */
export class BodyBudget {
  private used = 0;
  constructor(
    readonly limit: number,
    readonly limitText: string,
  ) {}

  get inUse(): number {
    return this.used;
  }

  /** Takes n bytes if they fit. */
  take(n: number): boolean {
    if (this.used + n > this.limit) return false;
    this.used += n;
    return true;
  }

  give(n: number): void {
    this.used = Math.max(0, this.used - n);
  }

  refusal(): HttpError {
    return new HttpError(503, `server busy: request bodies in flight exceed the budget (${this.limitText}; see --body-budget); retry`);
  }
}

export interface BodyLimits {
  /** Largest body of one request, bytes, and its text for messages. */
  max: number;
  maxText: string;
  budget: BodyBudget;
}

/**
 * Reads a whole body. Resolves with the bytes and a `release` that returns them to the budget
 * (call it when the request is done with the body). Rejects with a 413 (too large), a 503 (budget)
 * or a 400 (client went away); whatever was taken is returned to the budget on rejection.
 */
export function readBody(req: IncomingMessage, limits: BodyLimits): Promise<{ body: Buffer; release: () => void }> {
  return new Promise((resolve, reject) => {
    const { budget } = limits;
    let held = 0;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      budget.give(held);
    };
    const tooLarge = () => new HttpError(413, `body larger than the limit (${limits.maxText}; see --max-body)`);
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limits.max) {
      reject(tooLarge());
      return;
    }
    // A declared length is reserved up front: a refusal then costs no buffering at all.
    if (Number.isFinite(declared) && declared > 0) {
      if (!budget.take(declared)) {
        reject(budget.refusal());
        return;
      }
      held = declared;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    const fail = (err: HttpError) => {
      failed = true;
      chunks.length = 0;
      release();
      reject(err);
    };
    req.on('data', (c: Buffer) => {
      if (failed) return;
      size += c.length;
      if (size > limits.max) return fail(tooLarge());
      if (size > held) {
        if (!budget.take(size - held)) return fail(budget.refusal());
        held = size;
      }
      chunks.push(c);
    });
    let ended = false;
    req.on('end', () => {
      ended = true;
      if (failed) return;
      // A body shorter than its declared length gives back the difference now.
      if (held > size) {
        budget.give(held - size);
        held = size;
      }
      resolve({ body: chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size), release });
    });
    // A client that goes away mid-body: settle instead of waiting forever.
    req.on('close', () => {
      if (ended || failed) return;
      fail(new HttpError(400, 'request body: connection closed before the body was complete'));
    });
    req.on('error', (err) => {
      if (failed) return;
      fail(new HttpError(400, `request body: ${err.message}`));
    });
  });
}
