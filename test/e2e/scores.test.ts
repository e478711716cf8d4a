// gpu-ledger's prioritize reply leaves out the hosts that score 0 (kube-scheduler adds an
// extender's score only for the hosts a reply lists; scores go by rank, so past the best eleven
// distinct ratings every candidate is 0). Checked with the real kube-scheduler on twelve identical
// GB10 nodes: the reply lists fewer hosts than were asked about, and the pods go where the reply
// put its 10 — had the scheduler rejected the shortened list, it would drop the extender's scores
// (prioritize errors are ignored) and pick among twelve tied nodes at random.

import { expect, it } from 'vitest';
import { demoNodeAs, mpsPod } from './kube.js';
import { describeE2e, scenario } from './scenario.js';

const NAMES = Array.from({ length: 12 }, (_, i) => `spark-${String.fromCharCode(97 + i)}`);


describeE2e('prioritize scores through the real kube-scheduler', () => {
  const s = scenario('scores', () => NAMES.map((n) => demoNodeAs('spark-01', n)));

  it('the reply lists only the hosts scoring above 0, and each pod goes to the one it scores 10', async () => {
    for (const name of ['first', 'second', 'third']) {
      const pod = mpsPod(s.ns, name, s.schedulerName, { mem: '0=8G', threads: 10 });
      const res = await fetch(`${s.ledger.url}/prioritize`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ Pod: { ...pod, metadata: { ...pod.metadata, uid: `probe-${name}` } }, Nodes: null, NodeNames: NAMES }),
      });
      const reply = (await res.json()) as { Host: string; Score: number }[];
      expect(reply.length, JSON.stringify(reply)).toBeGreaterThan(1);
      expect(reply.length, JSON.stringify(reply)).toBeLessThan(NAMES.length);
      for (const h of reply) {
        expect(NAMES).toContain(h.Host);
        expect(h.Score).toBeGreaterThan(0);
      }
      const best = reply.filter((h) => h.Score === 10).map((h) => h.Host);
      expect(best).toHaveLength(1);
      await s.cluster.createPod(pod);
      expect(await s.cluster.bound(s.ns, name), name).toBe(best[0]);
    }
  });
});
