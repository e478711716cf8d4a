// Ledger.lookup answers candidate lists from the last few lists it saw; a node added, removed or
// re-created in between must be seen at once.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Ledger } from '../../src/state/ledger.js';
import { node } from '../helpers/make.js';

describe('Ledger.lookup', () => {
  it('reuses a list only while no node was added or removed', () => {
    const l = new Ledger();
    l.setNode(node({ name: 'a' }));
    const names = ['a', 'b'];
    expect(l.lookup(names)).toEqual([l.nodes.get('a'), undefined]);
    l.setNode(node({ name: 'b' }));
    // The same content in a new array (each request parses its own strings).
    expect(l.lookup(['a', 'b'])).toEqual([l.nodes.get('a'), l.nodes.get('b')]);
    const a = l.nodes.get('a');
    l.deleteNode('a');
    expect(l.lookup(['a', 'b'])[0]).toBeUndefined();
    l.setNode(node({ name: 'a' }));
    const again = l.lookup(['a', 'b'])[0];
    expect(again).toBe(l.nodes.get('a'));
    expect(again).not.toBe(a);
  });

  it('tells lists apart by every name, and keeps several', () => {
    const l = new Ledger();
    for (const n of ['a', 'b', 'c']) l.setNode(node({ name: n }));
    const get = (n: string) => l.nodes.get(n);
    expect(l.lookup(['a', 'b'])).toEqual([get('a'), get('b')]);
    expect(l.lookup(['a', 'c'])).toEqual([get('a'), get('c')]);
    expect(l.lookup(['a', 'b', 'c'])).toEqual([get('a'), get('b'), get('c')]);
    expect(l.lookup(['a', 'b'])).toEqual([get('a'), get('b')]);
    expect(l.lookup([])).toEqual([]);
    // A changed node (same name, new inventory) is the same entry: its answers follow its generation.
    l.setNode(node({ name: 'b', gpus: 2 }));
    expect(l.lookup(['a', 'b'])[1]?.inventory.gpus).toHaveLength(2);
  });

  it('the same array again is answered without comparing; filter\'s passing sub-list is remembered from the looked-up answers', () => {
    const l = new Ledger();
    for (const n of ['a', 'b', 'c', 'd']) l.setNode(node({ name: n }));
    const get = (n: string) => l.nodes.get(n);
    const names = ['a', 'b', 'c', 'd'];
    const first = l.lookup(names);
    expect(l.lookup(names)).toBe(first);
    // Filter passed b and d: prioritize's list (a new array, same names) resolves from that entry.
    l.rememberPicked(names, [1, 3]);
    const sub = l.lookup(['b', 'd']);
    expect(sub).toEqual([get('b'), get('d')]);
    expect(l.lookup(['b', 'd'])).toBe(sub);
    // A picked list of a list never looked up is not remembered (nothing to take it from).
    l.rememberPicked(['x', 'y'], [0]);
    expect(l.lookup(['x'])).toEqual([undefined]);
    // A node added or removed: the remembered lists are not used.
    l.deleteNode('d');
    expect(l.lookup(['b', 'd'])).toEqual([get('b'), undefined]);
    l.rememberPicked(names, [3]);
    l.setNode(node({ name: 'd' }));
    expect(l.lookup(['d'])[0]).toBe(get('d'));
  });

  it('answers every list as the name Map would, whatever the order, repeats, unknown names and membership changes between lists', () => {
    const pool = Array.from({ length: 24 }, (_, i) => `n-${i}`);
    // A step: a list (indexes into the pool, read as fresh strings) or a node added or removed.
    const step = fc.oneof(
      { weight: 4, arbitrary: fc.array(fc.nat({ max: pool.length - 1 }), { maxLength: 40 }).map((list) => ({ list })) },
      { weight: 1, arbitrary: fc.record({ add: fc.nat({ max: pool.length - 1 }) }) },
      { weight: 1, arbitrary: fc.record({ remove: fc.nat({ max: pool.length - 1 }) }) },
      // The last list's halves merged in another interleaving (kube-scheduler's parallel filter).
      { weight: 3, arbitrary: fc.array(fc.boolean(), { maxLength: 40 }).map((shuffle) => ({ shuffle })) },
    );
    fc.assert(
      fc.property(fc.array(step, { maxLength: 30 }), (steps) => {
        const l = new Ledger();
        for (let i = 0; i < pool.length; i += 2) l.setNode(node({ name: pool[i] }));
        let last: string[] = [];
        for (const st of steps) {
          if ('add' in st) l.setNode(node({ name: pool[st.add] }));
          else if ('remove' in st) l.deleteNode(pool[st.remove]);
          else {
            let list: string[];
            if ('list' in st) list = st.list.map((i) => pool[i]);
            else {
              // Two runs (the last list's halves) merged in the order the booleans say.
              const a = last.slice(0, last.length >> 1);
              const b = last.slice(last.length >> 1);
              list = [];
              for (const takeA of st.shuffle) {
                const from = takeA ? a : b;
                if (from.length > 0) list.push(from.shift()!);
              }
              list.push(...a, ...b);
            }
            const fresh = list.map((n) => `${n.slice(0, 2)}${n.slice(2)}`);
            const got = l.lookup(fresh);
            expect(got).toHaveLength(fresh.length);
            // The very node (a re-created node is another object with equal fields).
            for (let i = 0; i < fresh.length; i++) expect(got[i], fresh[i]).toBe(l.nodes.get(fresh[i]));
            last = list;
          }
        }
      }),
    );
  });
});
