// serve --log-format: JSON by default, one readable line per entry with `pretty`.
import { describe, expect, it } from 'vitest';
import { resolveServeOptions } from '../../src/cli/serve.js';
import { prettyLine, prettyStream } from '../../src/cli/pretty-log.js';
import { pino } from 'pino';

describe('--log-format', () => {
  it('defaults to json; pretty by flag, env var or config; anything else is refused naming the value', () => {
    const o = (argv: string[], env = {}) => {
      const r = resolveServeOptions(['--snapshot', 'x.yaml', ...argv], env);
      if (r === 'help') throw new Error('help');
      return r;
    };
    expect(o([]).logFormat).toBe('json');
    expect(o(['--log-format', 'pretty']).logFormat).toBe('pretty');
    expect(o([], { GPU_LEDGER_LOG_FORMAT: 'pretty' }).logFormat).toBe('pretty');
    expect(() => o(['--log-format', 'yaml'])).toThrow('--log-format "yaml" must be json or pretty');
    expect(o([]).podMetrics).toBe(false);
    expect(o(['--pod-metrics']).podMetrics).toBe(true);
    expect(o([], { GPU_LEDGER_POD_METRICS: 'true' }).podMetrics).toBe(true);
    expect(() => o([], { GPU_LEDGER_POD_METRICS: 'yes' })).toThrow('--pod-metrics "yes" must be true or false');
  });

  it('pretty prints time, level, message and the other fields on one line', () => {
    const line = JSON.stringify({ level: 40, time: Date.UTC(2026, 0, 2, 3, 4, 5, 678), pid: 1, hostname: 'h', msg: 'reservations expired', pods: ['ai/a'], node: 'spark-01', note: 'two words' });
    expect(prettyLine(line)).toBe('03:04:05.678 WARN  reservations expired  pods=["ai/a"] node=spark-01 note="two words"');
    expect(prettyLine('not json')).toBe('not json');
    let out = '';
    const logger = pino({ level: 'info' }, prettyStream((s) => (out += s)));
    logger.info({ url: 'http://127.0.0.1:8888' }, 'listening');
    logger.error({ err: new Error('boom') }, 'request failed');
    logger.debug('hidden');
    const lines = out.trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^\d\d:\d\d:\d\d\.\d{3} INFO  listening  url=http:\/\/127\.0\.0\.1:8888$/);
    expect(lines[1]).toMatch(/ ERROR request failed  err="boom"$/);
  });
});
