// The Dockerfile cannot be built here (no Docker engine in CI); check what makes it correct: a
// build stage that compiles, production dependencies only at run time, a numeric non-root user
// that matches the Deployment, and the entrypoint the manifests rely on.

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { asRec, containersOf, DEPLOY, loadYamlDocs, podSpecOf, REPO } from './files.js';

const DOCKERFILE = join(REPO, 'Dockerfile');
const text = existsSync(DOCKERFILE) ? readFileSync(DOCKERFILE, 'utf8') : '';
/** instructions with line continuations joined, comments dropped */
const lines = text
  .replace(/\\\n/g, ' ')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l !== '' && !l.startsWith('#'));
const stages: string[][] = [];
for (const l of lines) {
  if (/^FROM\s/i.test(l)) stages.push([l]);
  else if (stages.length > 0) stages[stages.length - 1].push(l);
}
const final = stages[stages.length - 1] ?? [];
const finalText = final.join('\n');

describe('Dockerfile', () => {
  it('is multi-stage on Node 24 (bookworm-slim or distroless)', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    const args = Object.fromEntries(lines.filter((l) => /^ARG\s+\w+=/.test(l)).map((l) => l.replace(/^ARG\s+/, '').split('=') as [string, string]));
    for (const s of stages) {
      const image = s[0].split(/\s+/)[1].replace(/^\$\{(\w+)\}$/, (_, v: string) => args[v] ?? v);
      if (/^(build|deps|[a-z-]+)$/.test(image) && stages.some((t) => new RegExp(`AS\\s+${image}$`, 'i').test(t[0]))) continue;
      expect(image).toMatch(/^(node:24-bookworm-slim|gcr\.io\/distroless\/nodejs24-debian12(:nonroot)?)(@sha256:[0-9a-f]{64})?$/);
    }
  });

  it('builds with the full dependency tree: npm ci, then npm run build', () => {
    const build = stages.slice(0, -1).flat().join('\n');
    expect(build).toMatch(/RUN npm ci\b/);
    expect(build).toMatch(/RUN npm run build\b/);
  });

  it('ships production dependencies only, without running install scripts', () => {
    const all = stages.flat().join('\n');
    expect(all).toMatch(/npm ci (?:[^\n]*\s)?--omit=dev(?:\s[^\n]*)?--ignore-scripts|npm ci (?:[^\n]*\s)?--ignore-scripts(?:\s[^\n]*)?--omit=dev/);
    // the runtime image either installs them itself or copies node_modules from a stage that did
    expect(finalText).toMatch(/npm ci [^\n]*--omit=dev|COPY --from=\w+ \S*node_modules/);
    expect(finalText).not.toMatch(/COPY --from=build \S*node_modules/);
  });

  it('copies the compiled code, the launcher and package.json ("type": "module")', () => {
    expect(finalText).toMatch(/COPY --from=build \/\S+\/dist\/src \.?\/?\S*dist\/src/);
    expect(finalText).toMatch(/COPY (\S+ )*bin \S*bin/);
    expect(finalText).toMatch(/COPY (\S+ )*package\.json/);
  });

  it('runs as a numeric non-root user: the one the Deployment sets', () => {
    const user = final.filter((l) => /^USER\s/i.test(l)).pop() ?? '';
    const m = /^USER\s+(\d+)(?::(\d+))?$/.exec(user);
    expect(m, `final USER: ${user}`).not.toBeNull();
    expect(Number(m![1])).toBeGreaterThan(0);
    const dep = loadYamlDocs(join(DEPLOY, 'manifests/base/deployment.yaml'))[0].doc;
    expect(asRec(podSpecOf(dep)?.securityContext).runAsUser).toBe(Number(m![1]));
  });

  it('has the entrypoint the manifests assume: node /app/bin/gpu-ledger.js, default command serve', () => {
    expect(final).toContain('ENTRYPOINT ["node", "/app/bin/gpu-ledger.js"]');
    expect(final).toContain('CMD ["serve"]');
    const dep = loadYamlDocs(join(DEPLOY, 'manifests/base/deployment.yaml'))[0].doc;
    const ledger = containersOf(podSpecOf(dep) ?? {}).find((c) => c.name === 'gpu-ledger')!.container;
    expect(ledger.command).toBeUndefined(); // keep the ENTRYPOINT; args replace CMD
  });
});

describe('.dockerignore', () => {
  it('keeps dependencies, build output, VCS data, benchmark results, coverage and tests out of the context', () => {
    const entries = readFileSync(join(REPO, '.dockerignore'), 'utf8')
      .split('\n')
      .map((l) => l.trim().replace(/^\/|\/$/g, ''))
      .filter((l) => l !== '' && !l.startsWith('#'));
    for (const e of ['node_modules', 'dist', '.git', 'bench/results', 'coverage', 'test']) expect(entries, e).toContain(e);
    // the build needs these
    for (const e of ['src', 'bin', 'package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json']) expect(entries, e).not.toContain(e);
  });
});
