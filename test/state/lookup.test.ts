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
});
