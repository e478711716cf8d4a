// Placeholder until the trace replay lands.
export async function runReplay(_argv: string[]): Promise<number> {
  console.error('gpu-ledger replay: not available in this build');
  return 2;
}
