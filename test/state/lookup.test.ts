// Ledger.lookup answers candidate lists from the last few lists it saw; a node added, removed or
// re-created in between must be seen at once.
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
});

